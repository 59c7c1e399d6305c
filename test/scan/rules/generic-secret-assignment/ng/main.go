package main

var githubToken string = "{{alnum:12}}{{digit:4}}{{alnum:16}}"

func client() {
	apiKey := "{{alnum:12}}{{digit:4}}{{alnum:16}}"
	_ = apiKey
}
