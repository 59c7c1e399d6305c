SUMO_ACCESS_KEY = "{{alnum:64}}"
