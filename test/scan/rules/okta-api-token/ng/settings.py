OKTA_API_TOKEN = "0{{}}0{{b64u:40}}"
