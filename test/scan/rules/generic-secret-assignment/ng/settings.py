SECRET_KEY = "{{alnum:12}}{{digit:4}}{{alnum:16}}"
