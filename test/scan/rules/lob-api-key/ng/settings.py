LOB_API_KEY = "liv{{}}e_{{hex:35}}"
