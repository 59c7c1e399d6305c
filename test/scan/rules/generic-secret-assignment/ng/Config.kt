const val API_TOKEN: String = "{{alnum:12}}{{digit:4}}{{alnum:16}}"
