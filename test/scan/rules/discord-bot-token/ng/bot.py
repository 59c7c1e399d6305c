import discord

client = discord.Client(intents=discord.Intents.default())
client.run("ODAzOTI3{{}}NDUxMjY4OTM0NzE1.{{b64u:6}}.{{b64u:38}}")
