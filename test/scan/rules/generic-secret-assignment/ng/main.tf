provider "svc" {
  token = "{{alnum:12}}{{digit:4}}{{alnum:16}}"
}

variable "api_token" {
  type    = string
  default = "{{alnum:12}}{{digit:4}}{{alnum:16}}"
}
