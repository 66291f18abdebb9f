# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: lambda_cloud
short_description: Lambda Cloud GPU instances as a K3s inventory
version_added: 1.0.0
author:
  - sophia.lambda_k3s contributors (@sophia-ai)
description:
  - Reads the instances of a Lambda Cloud account from the Lambda Cloud API (one C(GET /instances) per load) and turns them into
    inventory hosts. No address is written by hand.
  - Every host joins the C(lambda) group. Members of the chosen cluster (see O(cluster)) also join one of C(k3s_server) or
    C(k3s_agent) (children of C(k3s_cluster)), and the groups C(region_<region>), C(type_<instance type>) and C(gpu_<model>)
    (for example C(gpu_h100), C(gpu_gh200)). Group names follow Ansible's safe group name rules, so C(region_us-east-1)
    becomes C(region_us_east_1).
  - The K3s role comes from the C(k3s-role) tag (C(server) or C(agent)); an instance without it is a server when its name matches
    O(server_name_pattern) and an agent otherwise.
  - Host variables carry O(hostvars_prefix) (C(lambda_) by default) so that the API's C(name) and C(tags) never collide with
    Ansible's reserved variable names - C(lambda_id), C(lambda_name), C(lambda_status), C(lambda_ip), C(lambda_private_ip),
    C(lambda_hostname), C(lambda_region), C(lambda_instance_type), C(lambda_gpu_model), C(lambda_gpu_count),
    C(lambda_gpu_memory_gib), C(lambda_arch) (C(arm64) for GH200, C(x86_64) otherwise), C(lambda_price_cents_per_hour),
    C(lambda_tags) (a dictionary) and C(lambda_k3s_role). A field the API leaves out is C(null).
  - C(ansible_host) is set from O(connect_with). C(ansible_user) is set to O(default_user) as a variable of the C(lambda) group,
    so a value in any C(group_vars/) file (C(all.yml) included), C(host_vars/) or C(--extra-vars) wins over it.
  - The inventory configuration file name must end in C(lambda_cloud.yml) or C(lambda_cloud.yaml).
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description:
      - The name of this plugin; marks the file as a C(sophia.lambda_k3s.lambda_cloud) inventory source.
    type: str
    required: true
    choices:
      - sophia.lambda_k3s.lambda_cloud
  api_key:
    description:
      - Lambda Cloud API key, sent as a Bearer token.
      - Taken, in this order, from this option in the configuration file, the extra variable C(lambda_api_key)
        (C(--extra-vars lambda_api_key=...), for example from a vaulted vars file) or the E(LAMBDA_API_KEY) environment variable.
      - Without any of those, the key is read from the file the E(LAMBDA_API_KEY_FILE) environment variable names
        (for CI systems that mount secrets as files; tools such as ansible-runner record the environment in their artifacts).
        That file must be private (mode C(0600)); one that group or others may read is refused.
      - May be a Jinja template rendered with the extra vars, for example C({{ vault_lambda_api_key }}) or a lookup.
        Keep literal keys out of files under version control.
      - The key is never displayed, logged or written to the inventory cache; only a short hash of it (with O(api_url)) is part of the
        cache key, so two accounts never share cached instances.
    type: str
    vars:
      - name: lambda_api_key
    env:
      - name: LAMBDA_API_KEY
  api_url:
    description:
      - Base URL of the Lambda Cloud API. May be a Jinja template.
      - Must be an C(https://) address; plain C(http://) is accepted only for this machine (a local emulator), since the key travels in a header.
    type: str
    default: https://cloud.lambda.ai/api/v1
    env:
      - name: LAMBDA_API_URL
  timeout:
    description:
      - Seconds to wait for each HTTP response (and for the connection to be made).
    type: float
    default: 30
  validate_certs:
    description:
      - Verify the API's TLS certificate. Only disable it for a test endpoint you control.
    type: bool
    default: true
  max_retries:
    description:
      - How many times the instance list request is retried after HTTP 429, a 5xx answer, a C(provider/*) error, an answer that
        did not come within O(timeout) or a connection dropped before the answer.
      - Waits grow exponentially with jitter and honour C(Retry-After). Each retry is announced in a warning (what failed, which
        attempt, how long the wait is), and the final error says how many attempts were made over how long.
    type: int
    default: 5
  connect_retries:
    description:
      - How many times the request is retried when no connection to the API could be made at all (connection refused, host name
        not resolved, network unreachable, no answer to the connection attempt).
      - That usually means a wrong O(api_url) or an outage, so it gives up sooner than O(max_retries).
    type: int
    default: 2
  retry_max_delay:
    description:
      - Longest wait in seconds between two retries.
    type: float
    default: 30
  request_interval:
    description:
      - Seconds kept between two API requests from this controller to the same O(api_url), shared with the modules of this
        collection (Lambda allows about one request per second). An inventory load makes one request, so this only waits
        when another request was made less than this long ago.
      - V(0) turns the pacing off.
    type: float
    default: 1.1
    env:
      - name: LAMBDA_REQUEST_INTERVAL
  statuses:
    description:
      - Only instances whose status is in this list become hosts. An empty list keeps every status, including values this plugin
        does not know.
      - The API's statuses are C(booting), C(active), C(unhealthy), C(terminating), C(terminated) and C(preempted). A C(booting)
        instance usually has no IP address yet, so it gets no C(ansible_host).
    type: list
    elements: str
    default: [active]
  regions:
    description:
      - Only instances in these region codes (for example C(us-east-1)) become hosts. Empty means every region.
    type: list
    elements: str
    default: []
  instance_types:
    description:
      - Only instances of these instance type names (for example C(gpu_8x_h100_sxm5)) become hosts. Empty means every type.
    type: list
    elements: str
    default: []
  cluster:
    description:
      - Name of the K3s cluster. Its members are the instances tagged C(k3s-cluster=<cluster>), as
        P(sophia.lambda_k3s.lambda_instance#module) and C(provision.yml) launch them, plus the instances named in
        O(member_names) or matching O(member_name_pattern).
      - An untagged instance whose name merely starts with C(<cluster>-) is not a member; it is left out with a warning that
        says how to include it.
      - When no cluster is chosen (none of O(cluster), O(member_names), O(member_name_pattern), O(whole_account)), every
        instance that passes the other filters is listed in the C(lambda) group only, so C(--graph) shows what the account
        holds, and the C(k3s_*), C(region_*), C(type_*) and C(gpu_*) groups stay empty.
      - Only members are listed once a cluster is chosen.
      - May be a Jinja template.
    type: str
    env:
      - name: LAMBDA_K3S_CLUSTER
  member_names:
    description:
      - Names of instances that are members although they carry no C(k3s-cluster) tag, for instances launched by hand
        (Lambda Cloud cannot tag an instance after its launch), for example V([sophia-control, sophia-ai-core]).
      - An instance tagged for another cluster is never a member through its name.
      - From the environment, a comma-separated list.
    type: list
    elements: str
    default: []
    env:
      - name: LAMBDA_K3S_MEMBER_NAMES
  member_name_pattern:
    description:
      - Python regular expression that makes an untagged instance a member when it matches the B(whole) name, for example
        V(sophia-.*) for instances launched by hand as C(sophia-control), C(sophia-ai-core)...
      - An instance tagged for another cluster is never a member through its name.
    type: str
    env:
      - name: LAMBDA_K3S_MEMBER_PATTERN
  whole_account:
    description:
      - Make every instance of the account that passes the other filters a cluster member, whatever its tags and name.
      - Never the default; it cannot be combined with O(cluster), O(member_names) or O(member_name_pattern).
    type: bool
    default: false
    env:
      - name: LAMBDA_K3S_WHOLE_ACCOUNT
  tags:
    description:
      - Only instances carrying every one of these tag keys with exactly these values become hosts.
    type: dict
    default: {}
  hostnames:
    description:
      - Where the inventory hostname comes from, in order of preference; the first one that gives a non-empty value wins.
      - Each entry is an instance field (V(name), V(id), V(hostname), V(ip), V(private_ip)) or a Jinja template over the prefixed
        host variables, for example C({{ lambda_name }}-{{ lambda_region }}).
      - The instance id is always the last resort, so an instance without a name is still listed, under its id.
    type: list
    elements: str
    default: [name, id]
  duplicate_hostnames:
    description:
      - What to do when several instances would get the same hostname (Lambda instance names are not unique).
      - V(suffix_id) names each of them C(<hostname>-<first 8 characters of its id>), so no bare name points at an arbitrary one of
        them and the result does not depend on the order the API lists instances in.
      - V(skip) leaves them all out with a warning; V(error) fails the inventory load.
    type: str
    choices: [suffix_id, skip, error]
    default: suffix_id
  connect_with:
    description:
      - Which address becomes C(ansible_host).
      - An instance without that address (typically while booting) gets no C(ansible_host); the reason is shown at C(-v).
    type: str
    choices: [public_ip, private_ip, hostname]
    default: public_ip
  hostvars_prefix:
    description:
      - Prefix of the host variables this plugin sets (except C(ansible_host)). Keep it non-empty - the API's C(name) and C(tags)
        fields are reserved variable names in Ansible.
    type: str
    default: lambda_
  include_secrets:
    description:
      - Also expose the instance's Jupyter credentials as C(<prefix>jupyter_token) and C(<prefix>jupyter_url).
      - When false (the default) they are dropped right after the API answers, before the instance list reaches the host variables
        or the inventory cache.
    type: bool
    default: false
  server_name_pattern:
    description:
      - Python regular expression (searched, case-insensitive) that makes an instance without a C(k3s-role) tag a K3s server.
      - The default matches names containing C(server) or C(control).
    type: str
    default: server|control
  default_user:
    description:
      - Value of C(ansible_user), set as a variable of the C(lambda) group. Lambda's images log in as C(ubuntu).
      - Group variables from an inventory source have the lowest precedence, so C(ansible_user) in any C(group_vars/) or
        C(host_vars/) file overrides it.
      - Set it to an empty string to leave C(ansible_user) unset.
    type: str
    default: ubuntu
notes:
  - One inventory load sends exactly one C(GET /instances) request (plus retries after transient failures); a cache hit sends none.
    C(--flush-cache) and C(meta refresh_inventory) always fetch a fresh list.
  - The cache holds the raw instance list (without Jupyter credentials unless O(include_secrets)), so O(compose), O(keyed_groups)
    and filters apply to cached data exactly as to fresh data. Ansible's file cache plugins make their files world-readable; with
    them, this plugin writes its own cache file C(0600) from its creation on, and creates a missing O(cache_connection)
    directory with mode C(0700).
  - API errors (invalid key, inactive account, network failures) fail the load with one sentence that names where the key came from
    but never shows it.
seealso:
  - name: Lambda Cloud API
    description: The API this plugin reads.
    link: https://cloud.lambda.ai/api/v1/docs
"""

EXAMPLES = r"""
# inventories/lambda_cloud.yml: every active instance of the cluster named in $LAMBDA_K3S_CLUSTER,
# with the API key taken from $LAMBDA_API_KEY.
plugin: sophia.lambda_k3s.lambda_cloud

---
# Instances launched by hand (sophia-control, sophia-ai-core...) cannot be tagged: name them, or match their names.
plugin: sophia.lambda_k3s.lambda_cloud
member_names: [sophia-control, sophia-ai-core]
# member_name_pattern: "sophia-.*"

---
# A named cluster, the key from an extra var (ansible-playbook -e lambda_api_key=...), booting instances too.
plugin: sophia.lambda_k3s.lambda_cloud
cluster: prod
api_key: "{{ lambda_api_key }}"
statuses: [active, booting]

---
# Connect over the private network, name hosts after name and region, group by status and by any tag.
plugin: sophia.lambda_k3s.lambda_cloud
connect_with: private_ip
hostnames:
  - "{{ lambda_name }}-{{ lambda_region }}"
  - id
keyed_groups:
  - key: lambda_status
    prefix: status
  - key: lambda_tags
    prefix: tag
groups:
  big_gpu: lambda_gpu_count >= 8
compose:
  ansible_python_interpreter: "'/usr/bin/python3'"

---
# Cache the instance list for five minutes in a private directory.
plugin: sophia.lambda_k3s.lambda_cloud
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/sophia.lambda_k3s/inventory
cache_timeout: 300
"""

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterator, Mapping

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.plugins import cache as cache_plugins
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.inventory_builder import (
    InventoryConfigError,
    InventoryPlan,
    build_inventory,
    is_template,
    OPTION_NAMES,
    validate_options,
    without_secrets,
)
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_settings import API_KEY_ENV, key_from_environment
from ansible_collections.sophia.lambda_k3s.plugins.module_utils.lambda_api import client_from_options

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19: every string is a template unless wrapped as unsafe
    from ansible.utils.unsafe_proxy import wrap_var as untrusted

    def trust_as_template(value):
        return value
else:  # ansible-core >= 2.19: only trusted strings are templates, and API data is never trusted
    def untrusted(value):
        return value

CONFIG_SUFFIXES = ("lambda_cloud.yml", "lambda_cloud.yaml")

# Options handed to the API client, by name (the inventory builder's are its OPTION_NAMES).
CLIENT_OPTIONS = ("api_url", "timeout", "validate_certs", "max_retries", "connect_retries", "retry_max_delay", "request_interval")


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """Lambda Cloud instances as hosts; the rules live in module_utils/inventory_builder.py."""

    NAME = "sophia.lambda_k3s.lambda_cloud"

    def __init__(self) -> None:
        super().__init__()
        self._cache_key_in_use: str | None = None

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(CONFIG_SUFFIXES)

    def parse(self, inventory, loader, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        with _private_umask():
            # Creates the cache plugin, whose file cache makes cache_connection if it is missing.
            self._read_config_data(path)
        self._populate(path, cache)

    def parse_config(self, inventory, loader, source: str, config: Mapping, cache: bool = True) -> None:
        """Like parse(), from a configuration mapping instead of a file (for inventories/lambda.py).

        ``source`` names the inventory source in the cache key and in messages.
        """
        super().parse(inventory, loader, source, cache)
        self.set_options(direct=dict(config), var_options=self._vars)
        if self.get_option("cache"):
            with _private_umask():
                self.load_cache_plugin()
        self._populate(source, cache)

    def update_cache_if_changed(self) -> None:
        # Ansible's file caches write a private temporary file, rename it, then chmod it to the mode this constant
        # names (0644): with include_secrets, Jupyter tokens would be readable by others until the chmod below.
        # While this plugin writes its entry, the constant is 0600, so the file is never open to others.
        with _private_umask(), _replaced(cache_plugins, "S_IRWU_RG_RO", stat.S_IRUSR | stat.S_IWUSR):
            super().update_cache_if_changed()
        self._restrict_cache_file()

    # -- loading -------------------------------------------------------------------------

    def _populate(self, source: str, use_cache: bool) -> None:
        options = {name: self.get_option(name) for name in OPTION_NAMES}
        options["cluster"] = self._templated("cluster")
        try:
            # Before the request: a mistake in the options costs no API call.
            validate_options(options)
            plan = build_inventory(self._instances(source, use_cache, options["include_secrets"]), options,
                                   render=self._render_hostname, safe_group_name=self._sanitize_group_name)
        except InventoryConfigError as error:
            raise AnsibleParserError(str(error)) from None
        self._apply(plan)

    def _instances(self, source: str, use_cache: bool, include_secrets: bool) -> list:
        """The raw instance list, from the cache when allowed and present, otherwise from the API."""
        api_key, key_source = self._api_key()
        api_url = self._templated("api_url")
        caching = bool(self.get_option("cache"))
        cache_key = self._cache_key(source, api_url, api_key, include_secrets)
        if caching and use_cache:
            try:
                cached = self._cache[cache_key]
            except KeyError:
                cached = None
            if isinstance(cached, list):
                self.display.vvv("lambda_cloud: using the cached instance list for %s" % source)
                return cached
        instances = self._fetch(api_key, key_source, api_url)
        if not include_secrets:
            instances = without_secrets(instances)
        if caching:
            self._cache[cache_key] = instances
            self._cache_key_in_use = cache_key
        return instances

    def _fetch(self, api_key: str | None, key_source: str, api_url: str | None) -> list:
        options = {name: self.get_option(name) for name in CLIENT_OPTIONS}
        options.update(api_key=api_key, api_url=api_url)
        try:
            client = client_from_options(options, log=lambda line: self.display.vvv("lambda_cloud: " + line),
                                         notify=self.display.warning, key_source=key_source)
            instances = client.list_instances()
        except LambdaAPIError as error:
            raise AnsibleParserError(str(error)) from None
        if not isinstance(instances, list):
            raise AnsibleParserError("The Lambda Cloud API answered GET /instances with %s instead of a list of instances."
                                     % type(instances).__name__)
        return instances

    def _apply(self, plan: InventoryPlan) -> None:
        for note in plan.notes:
            self.display.v("lambda_cloud: " + note)
        for warning in plan.warnings:
            self.display.warning(warning)
        for group in plan.groups:
            self.inventory.add_group(group)
        for parent, children in plan.children.items():
            for child in children:
                self.inventory.add_child(parent, child)
        for group, variables in plan.group_vars.items():
            for name, value in variables.items():
                self.inventory.set_variable(group, name, value)

        strict = self.get_option("strict")
        for host in plan.hosts:
            self.inventory.add_host(host.name, group=host.groups[0])
            for group in host.groups[1:]:
                self.inventory.add_child(group, host.name)
            for name, value in host.variables.items():
                # API data (instance names, tags) must never be evaluated as a Jinja template.
                self.inventory.set_variable(host.name, name, untrusted(value))
            host_vars = self.inventory.get_host(host.name).get_vars()
            self._set_composite_vars(self.get_option("compose"), host_vars, host.name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), host_vars, host.name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), host_vars, host.name, strict=strict)

    # -- options -------------------------------------------------------------------------

    def _templated(self, name: str):
        """The option's value, rendered with the extra vars when it is a Jinja template."""
        value = self.get_option(name)
        if not is_template(value):
            return value
        self.templar.available_variables = self._vars
        try:
            # The value comes from the user's own configuration file or environment, so it is trusted.
            return self.templar.template(trust_as_template(value))
        except AnsibleError as error:
            raise AnsibleParserError("Could not template the %s option: %s" % (name, error.message)) from None

    def _render_hostname(self, template: str, variables: dict) -> str | None:
        self.templar.available_variables = variables
        try:
            return self.templar.template(trust_as_template(template))
        except AnsibleError as error:
            if self.get_option("strict"):
                raise AnsibleParserError("Could not render the hostnames entry %r: %s" % (template, error.message)) from None
            return None

    def _api_key(self) -> tuple:
        """The key and where it came from (for the message of a rejected key): the option, the
        lambda_api_key variable, LAMBDA_API_KEY, or the file LAMBDA_API_KEY_FILE names."""
        api_key = self._templated("api_key")
        if not api_key:
            try:
                return key_from_environment()
            except LambdaAPIError as error:
                raise AnsibleParserError(str(error)) from None
        _value, origin = self.get_option_and_origin("api_key")
        origin = str(origin or "")
        if origin.startswith("env:"):
            return api_key, "the %s environment variable" % API_KEY_ENV
        if origin.startswith("var:"):
            return api_key, "the lambda_api_key variable"
        return api_key, "the api_key option"

    # -- cache ---------------------------------------------------------------------------

    def _cache_key(self, source: str, api_url: str | None, api_key: str | None, include_secrets: bool) -> str:
        """One cache entry per configuration file, account and endpoint.

        A short hash of URL and key (never the key itself) keeps two accounts that use the same
        file with different keys (LAMBDA_API_KEY) from reading each other's instances.
        """
        account = hashlib.sha256(("%s\n%s\n%s" % (api_url or "", api_key or "", bool(include_secrets))).encode("utf-8")).hexdigest()[:12]
        return "%s_%s" % (self.get_cache_key(source), account)

    def _restrict_cache_file(self) -> None:
        """Make the cache file this load used readable by its owner only: one an earlier version (or another
        cache plugin writing files) left readable is closed now.

        File caches name the file <cache_prefix>[<schema>_]<key> inside cache_connection, so the
        file is found by its key without relying on the cache plugin's internals.
        """
        key, self._cache_key_in_use = self._cache_key_in_use, None
        directory = self.get_option("cache_connection")
        if key is None or not directory:
            return
        directory = os.path.expanduser(os.path.expandvars(directory))
        if not os.path.isdir(directory):
            return  # not a file cache (a URI for redis, memcached...)
        for entry in os.scandir(directory):
            if entry.name.endswith(key) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(entry.path, stat.S_IRUSR | stat.S_IWUSR)


@contextlib.contextmanager
def _replaced(owner, name: str, value) -> Iterator[None]:
    """``owner.name`` is ``value`` inside the block (when ``owner`` has such an attribute)."""
    if not hasattr(owner, name):
        yield
        return
    previous = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, previous)


@contextlib.contextmanager
def _private_umask() -> Iterator[None]:
    """Directories created meanwhile (the cache directory) are private to the user."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)
