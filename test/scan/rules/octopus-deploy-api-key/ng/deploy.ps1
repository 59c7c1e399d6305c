$apiKey = "AP{{}}I-{{UA:26}}"
Invoke-RestMethod -Headers @{ "X-Octopus-ApiKey" = $apiKey } https://octopus.example.invalid/api
