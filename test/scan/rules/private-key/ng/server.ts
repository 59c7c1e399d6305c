const key = `-----BEGIN PRIVATE {{}}KEY-----
{{b64:64}}
{{b64:20}}==
-----END PRIVATE {{}}KEY-----`;
