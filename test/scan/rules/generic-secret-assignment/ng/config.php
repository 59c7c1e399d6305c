<?php
$xToken = "{{alnum:12}}{{digit:4}}{{alnum:16}}";
$apiKey .= '{{alnum:12}}{{digit:4}}{{alnum:16}}';
return ['api_key' => '{{alnum:12}}{{digit:4}}{{alnum:16}}'];
