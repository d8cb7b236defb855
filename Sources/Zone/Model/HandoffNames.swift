/// Names ZoneBoot itself writes into what it hands to Ansible and Chef. A role may not
/// use them for its own data: its value would silently replace (or be replaced by) the
/// identity, so the zone check refuses them with the role's position instead.
public enum HandoffNames {
    /// Host variables the Ansible inventory sets from the identity (`Boot.HostFacts`),
    /// zone-wide group variables of `all`, and the live state from leases.
    public static let identityVariables: Set<String> = [
        // the identity
        "name", "fqdn", "kind", "address", "netmask", "prefix_length", "network", "subnet",
        "pod", "switch", "port", "role", "gateway", "rack", "unit", "profile", "host", "device",
        // the zone
        "zone", "domain", "dns", "ntp", "boot_server", "boot_url",
        // the inventory's own: the address Ansible connects to, the port under a name
        // Ansible does not reserve
        "ansible_host", "switch_port",
        // live state, from leases
        "mac", "lease_state", "last_seen", "lease_expires",
    ]

    /// Top-level keys of Chef's first-boot JSON that are not attributes: `chef-client -j`
    /// takes `run_list` (or `recipes`) and `chef_environment` out before the rest becomes
    /// normal attributes; `zoneboot` holds the identity.
    public static let chefReservedKeys: Set<String> = ["run_list", "recipes", "chef_environment", "zoneboot"]

    /// Names Ansible reserves (its play, role, block and task keywords and template
    /// globals, as `ansible.vars.reserved` lists them in ansible-core 2.19): Ansible warns
    /// for each host that has a variable so named, and the keyword may not mean the value.
    public static let ansibleReserved: Set<String> = [
        "action", "always", "any_errors_fatal", "args", "async", "async_val", "become", "become_exe",
        "become_flags", "become_method", "become_user", "block", "changed_when", "check_mode", "collections",
        "connection", "cycler", "debugger", "delay", "delegate_facts", "delegate_to", "dict", "diff",
        "environment", "fact_path", "failed_when", "force_handlers", "gather_facts", "gather_timeout",
        "handlers", "hosts", "ignore_errors", "ignore_unreachable", "joiner", "lipsum", "local_action",
        "lookup", "loop", "loop_control", "loop_with", "max_fail_percentage", "module_defaults", "name",
        "namespace", "no_log", "notify", "now", "omit", "order", "poll", "port", "post_tasks", "pre_tasks",
        "q", "query", "range", "register", "remote_user", "rescue", "retries", "roles", "run_once", "serial",
        "strategy", "tags", "tasks", "throttle", "timeout", "undef", "until", "vars", "vars_files",
        "vars_prompt", "when", "with_",
    ]

    /// Python's keywords (and its three constants): Ansible refuses them as variable names.
    static let pythonKeywords: Set<String> = [
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
        "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in",
        "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
    ]
}
