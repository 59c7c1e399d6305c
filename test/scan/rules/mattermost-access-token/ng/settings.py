MATTERMOST_TOKEN = "{{lower:13}}{{digit:3}}{{lower:10}}"
