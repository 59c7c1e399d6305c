PRIVATE_AI_API_KEY = "{{alnum:32}}"
