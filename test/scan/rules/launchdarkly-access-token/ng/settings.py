LAUNCHDARKLY_SDK_KEY = "sd{{}}k-{{hex:8}}-{{hex:4}}-{{hex:4}}-{{hex:4}}-{{hex:12}}"
