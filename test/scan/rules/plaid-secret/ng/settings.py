PLAID_SECRET = "{{hex:30}}"
