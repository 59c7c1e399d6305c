import { keywordRule } from "../keyword-rule.js";

/** Yandex Cloud IAM tokens (`t1.…`), API keys (`AQVN…`) and static access keys (`YC…`). */
export default keywordRule({
  id: "yandex-cloud-key",
  title: "Yandex Cloud IAM token, API key or access key",
  provider: "Yandex Cloud",
  words: ["yandex"],
  value:
    /t1\.[A-Za-z0-9_-]{1,200}={0,2}\.[A-Za-z0-9_-]{86}={0,2}|AQVN[A-Za-z0-9_-]{35,38}|YC[A-Za-z0-9_-]{38}/,
  revoke: "delete the key of the service account in Yandex Cloud (IAM) and create a new one",
});
