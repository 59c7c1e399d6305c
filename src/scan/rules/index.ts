import type { Rule } from "../rule.js";
import ageSecretKey from "./age-secret-key.js";
import anthropicApiKey from "./anthropic-api-key.js";
import atlassianApiToken from "./atlassian-api-token.js";
import awsAccessKeyId from "./aws-access-key-id.js";
import awsSecretAccessKey from "./aws-secret-access-key.js";
import azureAdClientSecret from "./azure-ad-client-secret.js";
import azureStorageAccountKey from "./azure-storage-account-key.js";
import databricksToken from "./databricks-token.js";
import digitaloceanToken from "./digitalocean-token.js";
import discordWebhook from "./discord-webhook.js";
import dopplerToken from "./doppler-token.js";
import dotenvTracked from "./dotenv-tracked.js";
import genericSecretAssignment from "./generic-secret-assignment.js";
import githubFineGrainedToken from "./github-fine-grained-token.js";
import githubToken from "./github-token.js";
import gitlabToken from "./gitlab-token.js";
import googleApiKey from "./google-api-key.js";
import googleOauthClientSecret from "./google-oauth-client-secret.js";
import grafanaToken from "./grafana-token.js";
import groqApiKey from "./groq-api-key.js";
import hashicorpVaultToken from "./hashicorp-vault-token.js";
import herokuApiKey from "./heroku-api-key.js";
import huggingfaceToken from "./huggingface-token.js";
import jwt from "./jwt.js";
import launchdarklyAccessToken from "./launchdarkly-access-token.js";
import linearApiKey from "./linear-api-key.js";
import linearClientSecret from "./linear-client-secret.js";
import linkedinClientSecret from "./linkedin-client-secret.js";
import lobApiKey from "./lob-api-key.js";
import lookerClientSecret from "./looker-client-secret.js";
import mailchimpApiKey from "./mailchimp-api-key.js";
import mailgunApiKey from "./mailgun-api-key.js";
import mapboxSecretToken from "./mapbox-secret-token.js";
import mattermostAccessToken from "./mattermost-access-token.js";
import maxmindLicenseKey from "./maxmind-license-key.js";
import messagebirdApiKey from "./messagebird-api-key.js";
import microsoftTeamsWebhook from "./microsoft-teams-webhook.js";
import netlifyLegacyToken from "./netlify-legacy-token.js";
import netlifyToken from "./netlify-token.js";
import newrelicInsightsKey from "./newrelic-insights-key.js";
import newrelicLicenseKey from "./newrelic-license-key.js";
import newrelicUserKey from "./newrelic-user-key.js";
import notionToken from "./notion-token.js";
import npmToken from "./npm-token.js";
import nugetApiKey from "./nuget-api-key.js";
import nugetConfigPassword from "./nuget-config-password.js";
import nytimesApiKey from "./nytimes-api-key.js";
import octopusDeployApiKey from "./octopus-deploy-api-key.js";
import oktaApiToken from "./okta-api-token.js";
import openaiApiKey from "./openai-api-key.js";
import openshiftUserToken from "./openshift-user-token.js";
import perplexityApiKey from "./perplexity-api-key.js";
import plaidAccessToken from "./plaid-access-token.js";
import plaidSecret from "./plaid-secret.js";
import planetscaleToken from "./planetscale-token.js";
import postmanApiKey from "./postman-api-key.js";
import prefectApiKey from "./prefect-api-key.js";
import privateKey from "./private-key.js";
import privateaiApiKey from "./privateai-api-key.js";
import pulumiToken from "./pulumi-token.js";
import pypiToken from "./pypi-token.js";
import rapidapiKey from "./rapidapi-key.js";
import readmeApiKey from "./readme-api-key.js";
import replicateApiToken from "./replicate-api-token.js";
import rubygemsApiKey from "./rubygems-api-key.js";
import scalingoApiToken from "./scalingo-api-token.js";
import sendbirdApiToken from "./sendbird-api-token.js";
import sendgridApiKey from "./sendgrid-api-key.js";
import sendinblueApiKey from "./sendinblue-api-key.js";
import sentryLegacyToken from "./sentry-legacy-token.js";
import sentryToken from "./sentry-token.js";
import settlemintToken from "./settlemint-token.js";
import shippoApiToken from "./shippo-api-token.js";
import shopifyToken from "./shopify-token.js";
import sidekiqCredentials from "./sidekiq-credentials.js";
import slackConfigToken from "./slack-config-token.js";
import slackToken from "./slack-token.js";
import slackWebhook from "./slack-webhook.js";
import snykApiToken from "./snyk-api-token.js";
import sonarqubeLegacyToken from "./sonarqube-legacy-token.js";
import sonarqubeToken from "./sonarqube-token.js";
import sourcegraphToken from "./sourcegraph-token.js";
import squareToken from "./square-token.js";
import squarespaceApiKey from "./squarespace-api-key.js";
import stripeSecretKey from "./stripe-secret-key.js";
import sumologicAccessKey from "./sumologic-access-key.js";
import tailscaleKey from "./tailscale-key.js";
import telegramBotToken from "./telegram-bot-token.js";
import terraformCloudToken from "./terraform-cloud-token.js";
import travisCiToken from "./travis-ci-token.js";
import trelloApiToken from "./trello-api-token.js";
import twilioApiKey from "./twilio-api-key.js";
import twitchApiToken from "./twitch-api-token.js";
import twitterApiSecret from "./twitter-api-secret.js";
import twitterBearerToken from "./twitter-bearer-token.js";
import typeformApiToken from "./typeform-api-token.js";
import urlCredentials from "./url-credentials.js";
import vercelToken from "./vercel-token.js";
import xaiApiKey from "./xai-api-key.js";
import yandexCloudKey from "./yandex-cloud-key.js";
import zendeskApiToken from "./zendesk-api-token.js";

/** Every pattern rule, specific formats first; the generic ones last (they yield to specific matches). */
export const PATTERN_RULES: readonly Rule[] = [
  ageSecretKey,
  anthropicApiKey,
  atlassianApiToken,
  awsAccessKeyId,
  awsSecretAccessKey,
  azureAdClientSecret,
  azureStorageAccountKey,
  databricksToken,
  digitaloceanToken,
  discordWebhook,
  dopplerToken,
  githubFineGrainedToken,
  githubToken,
  gitlabToken,
  googleApiKey,
  googleOauthClientSecret,
  grafanaToken,
  groqApiKey,
  hashicorpVaultToken,
  herokuApiKey,
  huggingfaceToken,
  jwt,
  launchdarklyAccessToken,
  linearApiKey,
  linearClientSecret,
  linkedinClientSecret,
  lobApiKey,
  lookerClientSecret,
  mailchimpApiKey,
  mailgunApiKey,
  mapboxSecretToken,
  mattermostAccessToken,
  maxmindLicenseKey,
  messagebirdApiKey,
  microsoftTeamsWebhook,
  netlifyLegacyToken,
  netlifyToken,
  newrelicInsightsKey,
  newrelicLicenseKey,
  newrelicUserKey,
  notionToken,
  npmToken,
  nugetApiKey,
  nugetConfigPassword,
  nytimesApiKey,
  octopusDeployApiKey,
  oktaApiToken,
  openaiApiKey,
  openshiftUserToken,
  perplexityApiKey,
  plaidAccessToken,
  plaidSecret,
  planetscaleToken,
  postmanApiKey,
  prefectApiKey,
  privateKey,
  privateaiApiKey,
  pulumiToken,
  pypiToken,
  rapidapiKey,
  readmeApiKey,
  replicateApiToken,
  rubygemsApiKey,
  scalingoApiToken,
  sendbirdApiToken,
  sendgridApiKey,
  sendinblueApiKey,
  sentryLegacyToken,
  sentryToken,
  settlemintToken,
  shippoApiToken,
  shopifyToken,
  sidekiqCredentials,
  slackConfigToken,
  slackToken,
  slackWebhook,
  snykApiToken,
  sonarqubeLegacyToken,
  sonarqubeToken,
  sourcegraphToken,
  squareToken,
  squarespaceApiKey,
  stripeSecretKey,
  sumologicAccessKey,
  tailscaleKey,
  telegramBotToken,
  terraformCloudToken,
  travisCiToken,
  trelloApiToken,
  twilioApiKey,
  twitchApiToken,
  twitterApiSecret,
  twitterBearerToken,
  typeformApiToken,
  vercelToken,
  xaiApiKey,
  yandexCloudKey,
  zendeskApiToken,
  urlCredentials,
  dotenvTracked,
  genericSecretAssignment,
];
