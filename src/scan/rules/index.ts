import type { Rule } from "../rule.js";
import onePasswordSecretKey from "./1password-secret-key.js";
import onePasswordServiceAccountToken from "./1password-service-account-token.js";
import adafruitIoKey from "./adafruit-io-key.js";
import adobeClientSecret from "./adobe-client-secret.js";
import ageSecretKey from "./age-secret-key.js";
import airtableApiKey from "./airtable-api-key.js";
import airtablePersonalAccessToken from "./airtable-personal-access-token.js";
import algoliaApiKey from "./algolia-api-key.js";
import alibabaAccessKeyId from "./alibaba-access-key-id.js";
import alibabaAccessKeySecret from "./alibaba-access-key-secret.js";
import anthropicApiKey from "./anthropic-api-key.js";
import artifactoryToken from "./artifactory-token.js";
import asanaClientSecret from "./asana-client-secret.js";
import asanaPersonalAccessToken from "./asana-personal-access-token.js";
import atlassianApiToken from "./atlassian-api-token.js";
import atlassianLegacyApiToken from "./atlassian-legacy-api-token.js";
import authressAccessKey from "./authress-access-key.js";
import awsAccessKeyId from "./aws-access-key-id.js";
import awsBedrockApiKey from "./aws-bedrock-api-key.js";
import awsSecretAccessKey from "./aws-secret-access-key.js";
import azureAdClientSecret from "./azure-ad-client-secret.js";
import azureStorageAccountKey from "./azure-storage-account-key.js";
import beamerApiToken from "./beamer-api-token.js";
import bitbucketClientSecret from "./bitbucket-client-secret.js";
import bittrexApiKey from "./bittrex-api-key.js";
import brevoApiKey from "./brevo-api-key.js";
import ciscoMerakiApiKey from "./cisco-meraki-api-key.js";
import clickhouseCloudApiSecret from "./clickhouse-cloud-api-secret.js";
import clojarsApiToken from "./clojars-api-token.js";
import cloudflareApiKey from "./cloudflare-api-key.js";
import cloudflareOriginCaKey from "./cloudflare-origin-ca-key.js";
import cloudflareToken from "./cloudflare-token.js";
import codecovToken from "./codecov-token.js";
import cohereApiKey from "./cohere-api-key.js";
import coinbaseAccessToken from "./coinbase-access-token.js";
import confluentApiSecret from "./confluent-api-secret.js";
import contentfulDeliveryToken from "./contentful-delivery-token.js";
import contentfulPersonalAccessToken from "./contentful-personal-access-token.js";
import databricksToken from "./databricks-token.js";
import datadogApiKey from "./datadog-api-key.js";
import definedNetworkingApiToken from "./defined-networking-api-token.js";
import digitaloceanToken from "./digitalocean-token.js";
import discordBotToken from "./discord-bot-token.js";
import discordClientSecret from "./discord-client-secret.js";
import discordWebhook from "./discord-webhook.js";
import dockerAccessToken from "./docker-access-token.js";
import dopplerToken from "./doppler-token.js";
import dotenvTracked from "./dotenv-tracked.js";
import droneciAccessToken from "./droneci-access-token.js";
import dropboxToken from "./dropbox-token.js";
import duffelApiToken from "./duffel-api-token.js";
import dynatraceApiToken from "./dynatrace-api-token.js";
import easypostApiKey from "./easypost-api-key.js";
import etsyApiKey from "./etsy-api-key.js";
import facebookAccessToken from "./facebook-access-token.js";
import facebookAppSecret from "./facebook-app-secret.js";
import fastlyApiToken from "./fastly-api-token.js";
import figmaAccessToken from "./figma-access-token.js";
import finicityApiKey from "./finicity-api-key.js";
import finnhubApiKey from "./finnhub-api-key.js";
import flickrApiKey from "./flickr-api-key.js";
import flutterwaveSecretKey from "./flutterwave-secret-key.js";
import flyioToken from "./flyio-token.js";
import frameioApiToken from "./frameio-api-token.js";
import freemiusSecretKey from "./freemius-secret-key.js";
import freshbooksAccessToken from "./freshbooks-access-token.js";
import genericSecretAssignment from "./generic-secret-assignment.js";
import githubFineGrainedToken from "./github-fine-grained-token.js";
import githubToken from "./github-token.js";
import gitlabSessionCookie from "./gitlab-session-cookie.js";
import gitlabToken from "./gitlab-token.js";
import gitterAccessToken from "./gitter-access-token.js";
import gocardlessAccessToken from "./gocardless-access-token.js";
import googleApiKey from "./google-api-key.js";
import googleOauthClientSecret from "./google-oauth-client-secret.js";
import grafanaToken from "./grafana-token.js";
import groqApiKey from "./groq-api-key.js";
import harnessApiKey from "./harness-api-key.js";
import hashicorpVaultToken from "./hashicorp-vault-token.js";
import herokuApiKey from "./heroku-api-key.js";
import herokuLegacyApiKey from "./heroku-legacy-api-key.js";
import hubspotApiKey from "./hubspot-api-key.js";
import hubspotPrivateAppToken from "./hubspot-private-app-token.js";
import huggingfaceToken from "./huggingface-token.js";
import infracostApiToken from "./infracost-api-token.js";
import intercomAccessToken from "./intercom-access-token.js";
import intra42ClientSecret from "./intra42-client-secret.js";
import jfrogIdentityToken from "./jfrog-identity-token.js";
import jwt from "./jwt.js";
import krakenApiKey from "./kraken-api-key.js";
import kucoinApiKey from "./kucoin-api-key.js";
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
  onePasswordSecretKey,
  onePasswordServiceAccountToken,
  adafruitIoKey,
  adobeClientSecret,
  ageSecretKey,
  airtableApiKey,
  airtablePersonalAccessToken,
  algoliaApiKey,
  alibabaAccessKeyId,
  alibabaAccessKeySecret,
  anthropicApiKey,
  artifactoryToken,
  asanaClientSecret,
  asanaPersonalAccessToken,
  atlassianApiToken,
  atlassianLegacyApiToken,
  authressAccessKey,
  awsAccessKeyId,
  awsBedrockApiKey,
  awsSecretAccessKey,
  azureAdClientSecret,
  azureStorageAccountKey,
  beamerApiToken,
  bitbucketClientSecret,
  bittrexApiKey,
  brevoApiKey,
  ciscoMerakiApiKey,
  clickhouseCloudApiSecret,
  clojarsApiToken,
  cloudflareApiKey,
  cloudflareOriginCaKey,
  cloudflareToken,
  codecovToken,
  cohereApiKey,
  coinbaseAccessToken,
  confluentApiSecret,
  contentfulDeliveryToken,
  contentfulPersonalAccessToken,
  databricksToken,
  datadogApiKey,
  definedNetworkingApiToken,
  digitaloceanToken,
  discordBotToken,
  discordClientSecret,
  discordWebhook,
  dockerAccessToken,
  dopplerToken,
  droneciAccessToken,
  dropboxToken,
  duffelApiToken,
  dynatraceApiToken,
  easypostApiKey,
  etsyApiKey,
  facebookAccessToken,
  facebookAppSecret,
  fastlyApiToken,
  figmaAccessToken,
  finicityApiKey,
  finnhubApiKey,
  flickrApiKey,
  flutterwaveSecretKey,
  flyioToken,
  frameioApiToken,
  freemiusSecretKey,
  freshbooksAccessToken,
  githubFineGrainedToken,
  githubToken,
  gitlabSessionCookie,
  gitlabToken,
  gitterAccessToken,
  gocardlessAccessToken,
  googleApiKey,
  googleOauthClientSecret,
  grafanaToken,
  groqApiKey,
  harnessApiKey,
  hashicorpVaultToken,
  herokuApiKey,
  herokuLegacyApiKey,
  hubspotApiKey,
  hubspotPrivateAppToken,
  huggingfaceToken,
  infracostApiToken,
  intercomAccessToken,
  intra42ClientSecret,
  jfrogIdentityToken,
  jwt,
  launchdarklyAccessToken,
  krakenApiKey,
  kucoinApiKey,
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
