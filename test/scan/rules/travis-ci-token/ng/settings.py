TRAVIS_API_TOKEN = "{{alnum:22}}"
