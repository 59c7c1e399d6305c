import requests
requests.post("https://api.telegram.org/bot{{digit:10}}:A{{}}A{{b64u:33}}/sendMessage", data={"chat_id": 1})
webhook = "https://api.telegram.org/bot{{digit:9}}%3AA{{}}A{{b64u:33}}/setWebhook"
