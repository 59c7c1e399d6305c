api_key: str = "{{alnum:12}}{{digit:4}}{{alnum:16}}"
client = Client(api_key="{{alnum:12}}{{digit:4}}{{alnum:16}}")
os.environ["SERVICE_TOKEN"] = "{{alnum:12}}{{digit:4}}{{alnum:16}}"
