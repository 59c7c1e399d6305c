ZENDESK_API_TOKEN = "{{alnum:40}}"
