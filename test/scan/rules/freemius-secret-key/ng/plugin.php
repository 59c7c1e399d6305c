<?php
$my_fs = fs_dynamic_init( array(
    'id'         => '{{digit:4}}',
    'public_key' => 'pk_{{hex:29}}',
    'secret_key' => 's{{}}k_{{b64:29}}',
) );
