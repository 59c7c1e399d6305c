TRELLO_TOKEN = "{{hex:64}}"
