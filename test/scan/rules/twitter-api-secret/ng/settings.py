TWITTER_API_KEY = "{{alnum:25}}"
TWITTER_API_SECRET = "{{alnum:50}}"
