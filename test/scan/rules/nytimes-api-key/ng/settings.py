NYTIMES_API_KEY = "{{alnum:32}}"
