private const string ApiKey = @"{{alnum:12}}{{digit:4}}{{alnum:16}}";
