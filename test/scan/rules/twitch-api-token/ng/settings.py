TWITCH_CLIENT_SECRET = "{{lower:15}}{{digit:5}}{{lower:10}}"
