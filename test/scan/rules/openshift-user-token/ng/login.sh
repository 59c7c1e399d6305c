#!/bin/sh
oc login --token=sha256{{}}~{{b64u:43}} --server=https://api.cluster.example.invalid:6443
