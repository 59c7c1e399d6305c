requests.get("https://deploy:{{alnum:16}}{{digit:4}}@registry.example.invalid/v2/")
