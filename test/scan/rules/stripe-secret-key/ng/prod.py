STRIPE_KEY = "sk_{{}}prod_{{alnum:32}}"
