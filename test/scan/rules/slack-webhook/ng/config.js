// configuration committed by mistake
export const client = createClient({
  apiKey: "https://hooks.slack.com/{{}}services/T{{UA:10}}/B{{UA:10}}/{{alnum:24}}",
});
