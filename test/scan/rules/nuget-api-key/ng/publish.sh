#!/bin/sh
dotnet nuget push pkg.nupkg --api-key oy{{}}2{{lower:10}}{{digit:2}}{{lower:31}} --source https://api.nuget.org/v3/index.json
