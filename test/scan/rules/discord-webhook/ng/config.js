// configuration committed by mistake
export const client = createClient({
  apiKey: "https://discord.com/api/{{}}webhooks/{{digit:19}}/{{b64u:68}}",
});
