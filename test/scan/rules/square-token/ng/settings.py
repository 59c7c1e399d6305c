# Square access token (current form)
SQUARE_ACCESS_TOKEN = "EA{{}}AA{{b64u:60}}"
