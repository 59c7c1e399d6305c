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
import linearApiKey from "./linear-api-key.js";
import mailchimpApiKey from "./mailchimp-api-key.js";
import newrelicUserKey from "./newrelic-user-key.js";
import npmToken from "./npm-token.js";
import openaiApiKey from "./openai-api-key.js";
import perplexityApiKey from "./perplexity-api-key.js";
import postmanApiKey from "./postman-api-key.js";
import privateKey from "./private-key.js";
import pulumiToken from "./pulumi-token.js";
import pypiToken from "./pypi-token.js";
import replicateApiToken from "./replicate-api-token.js";
import sendgridApiKey from "./sendgrid-api-key.js";
import sentryToken from "./sentry-token.js";
import shopifyToken from "./shopify-token.js";
import slackToken from "./slack-token.js";
import slackWebhook from "./slack-webhook.js";
import squareToken from "./square-token.js";
import stripeSecretKey from "./stripe-secret-key.js";
import telegramBotToken from "./telegram-bot-token.js";
import terraformCloudToken from "./terraform-cloud-token.js";
import twilioApiKey from "./twilio-api-key.js";
import urlCredentials from "./url-credentials.js";
import xaiApiKey from "./xai-api-key.js";

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
  linearApiKey,
  mailchimpApiKey,
  newrelicUserKey,
  npmToken,
  openaiApiKey,
  perplexityApiKey,
  postmanApiKey,
  privateKey,
  pulumiToken,
  pypiToken,
  replicateApiToken,
  sendgridApiKey,
  sentryToken,
  shopifyToken,
  slackToken,
  slackWebhook,
  squareToken,
  stripeSecretKey,
  telegramBotToken,
  terraformCloudToken,
  twilioApiKey,
  xaiApiKey,
  urlCredentials,
  dotenvTracked,
  genericSecretAssignment,
];
