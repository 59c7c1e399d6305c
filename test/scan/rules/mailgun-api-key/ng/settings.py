MAILGUN_API_KEY = "ke{{}}y-{{hex:32}}"
