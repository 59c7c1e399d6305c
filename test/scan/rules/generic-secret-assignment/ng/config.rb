CONFIG = { :api_key => "{{alnum:12}}{{digit:4}}{{alnum:16}}", client_secret: '{{alnum:12}}{{digit:4}}{{alnum:16}}' }
ENV["SERVICE_TOKEN"] ||= "{{alnum:12}}{{digit:4}}{{alnum:16}}"
