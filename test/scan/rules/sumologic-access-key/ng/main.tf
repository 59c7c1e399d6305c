provider "sumologic" {
  access_id  = "su{{alnum:12}}"
}
variable "x" {}
locals { sumologic_access_key = "{{alnum:64}}" }
