SHOPIFY_ACCESS_TOKEN = "shp{{}}at_{{alnum:40}}"
SHOPIFY_API_SECRET = "shp{{}}ss_{{alnum:64}}"
