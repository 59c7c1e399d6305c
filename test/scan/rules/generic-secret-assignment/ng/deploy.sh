export SERVICE_TOKEN={{alnum:12}}{{digit:4}}{{alnum:16}}
TOKEN="${SERVICE_TOKEN:-{{alnum:12}}{{digit:4}}{{alnum:16}}}"
curl -H "Authorization: Bearer {{alnum:12}}{{digit:4}}{{alnum:16}}" https://api.example.com/
