/// The zone file, version 1, as a shape: the one definition of which keys exist,
/// what they hold and which are required. docs/zone-format.md is the contract;
/// the keys the implementation adds are documented there too.
enum ZoneShape {
    static let apiVersion = "zoneboot/v1"

    static let defaultHostName = "{zone}-{pod}-r{rack:02}-u{unit:02}"
    static let defaultLOMName = "{host}-lom"
    static let defaultSwitchName = "{zone}-{pod}-{switch}"
    static let defaultLease = "12h"
    static let defaultDiscoveryLease = "10m"
    static let defaultDiscoveryName = "{zone}-{pod}-discover-{mac}"

    typealias F = Shape.Field

    /// One of the default naming templates above; they are constants, and a test parses each.
    static func builtInTemplate(_ text: String) -> NameTemplate {
        do { return try NameTemplate(parsing: text) } catch { preconditionFailure("built-in template \(text): \(error)") }
    }

    static let portEntry: Shape = .object([
        F("ports", .scalar(.portRange), required: true, "a port or inclusive range of ports: swp7, swp1-swp40"),
        F("rack", .scalar(.integer(0...99_999)), "rack number of what is plugged in here"),
        F("units", .scalar(.integerOrRange(0...999)), "unit or units, paired one to one with the ports: 7 or 1-40"),
        F("role", .scalar(.label), "role of what is plugged in here (a key of roles:)"),
        F("device", .scalar(.label), "a switch of this pod whose management port is plugged in here"),
        F("network", .scalar(.label), required: true, "network of the pod that addresses come from"),
        F("address", .scalar(.ipv4), required: true, "address of the first port; each next port takes the next address"),
    ])

    static let network: Shape = .object([
        F("subnet", .scalar(.cidr), required: true, "the network in CIDR form"),
        F("gateway", .scalar(.ipv4), "the router handed out in DHCP option 3"),
    ])

    static let `switch`: Shape = .object([
        F("name", .scalar(.label), required: true, "the switch's name in its pod"),
        F("role", .scalar(.label), "the switch's own role (a key of roles:), e.g. tor"),
        F("remote-id", .scalar(.text), "Option 82 remote-id (sub-option 2) its relay sends"),
        F("ports", .list(portEntry), "what is plugged into its ports"),
    ])

    static let pod: Shape = .object([
        F("name", .scalar(.label), required: true, "the pod's name"),
        F("relays", .list(.scalar(.ipv4)), "giaddr values trusted to carry Option 82"),
        F("relay-sources", .list(.scalar(.ipv4)),
          "addresses the pod's relays send from (uplink or loopback); relayed requests from anywhere else are dropped (default: the relays themselves)"),
        F("networks", .dictionary(key: .label, value: network), "the pod's networks by name"),
        F("switches", .list(`switch`), "the pod's switches"),
        F("discovery", .object([
            F("network", .scalar(.label), required: true, "network the discovery range belongs to"),
            F("range", .scalar(.addressRange), required: true, "first-last address for unknown locations"),
            F("lease", .scalar(.duration), "lease time of discovery addresses (default \(defaultDiscoveryLease))"),
            F("profile", .scalar(.label),
              "boot profile (a key of profiles:) an unknown machine boots, e.g. an inventory or commissioning image"),
            F("hostname", .scalar(.nameTemplate),
              "name an unknown machine is given, with {mac} (and {zone}, {pod}); default with a profile: \(defaultDiscoveryName)"),
        ]), "addresses for requests whose location matches no port"),
    ])

    static let role: Shape = .object([
        F("boot", .scalar(.label), "the boot profile (a key of profiles:)"),
        F("chef", .object([
            F("run-list", .list(.scalar(.text)), "Chef run-list items: recipe[x] or role[y]"),
            F("environment", .scalar(.text), "Chef environment"),
            F("attributes", .dictionary(key: .text, value: .any), "Chef normal attributes (top-level keys of the first-boot JSON)"),
        ]), "Chef first-boot data"),
        F("ansible", .object([
            F("groups", .list(.scalar(.groupName)), "extra Ansible groups"),
            F("vars", .dictionary(key: .variableName, value: .any), "Ansible host variables"),
        ]), "Ansible inventory data"),
        F("hooks", .list(.scalar(.label)), "hooks (keys of hooks:) run on this role's events"),
        F("ztp", .scalar(.oneOf(ZTPPlatform.allCases.map(\.rawValue))), "zero-touch provisioning dialect of a switch"),
        F("installer", .scalar(.installer),
          "the NOS installer ONIE is pointed at: a URL, or a path under the boot server's /files/"),
    ])

    static let profile: Shape = .object([
        F("ipxe", .scalar(.path), "iPXE script template, served at /hosts/<name>/boot.ipxe"),
        F("files", .dictionary(key: .text, value: .scalar(.path)), "served file name → template, at /hosts/<name>/<file>"),
        F("efi-loader", .scalar(.oneOf(EFILoader.allCases.map(\.rawValue))),
          "x64 UEFI loader: ipxe (its own NIC drivers, default) or snponly (the firmware's network stack)"),
        F("bootstrap-secrets", .dictionary(key: .label, value: bootstrapSecret),
          "credentials minted per host, served once at bootstrap.<name>.url to the host's own address"),
    ])

    static let bootstrapSecret: Shape = .object([
        F("kind", .scalar(.oneOf(BootstrapSecretKind.allCases.map(\.rawValue))), required: true,
          "rsa-key (a private key; hooks get its public key) or token (hooks get its SHA-256)"),
        F("ttl", .scalar(.duration), "how long an issued secret waits to be fetched (default 2h)"),
    ])

    static let hook: Shape = .object([
        F("on", .list(.scalar(.oneOf(HookEvent.allCases.map(\.rawValue)))), required: true, "events that run the hook"),
        F("run", .scalar(.path), "executable that gets the event as JSON on stdin (one of run, url, builtin)"),
        F("url", .scalar(.text), "http(s) URL the event is POSTed to as JSON (one of run, url, builtin)"),
        F("builtin", .scalar(.oneOf(BuiltinHook.allCases.map(\.rawValue))),
          "a hook built into zonebootd: redfish-register (one of run, url, builtin)"),
        F("timeout", .scalar(.duration), "how long one run may take before it is killed (default 30s)"),
        F("credentials", .scalar(.text),
          "redfish-register: JSON file with username and password, mode 0600: absolute, or relative and inside the zone file's folder"),
        F("tls", .scalar(.oneOf(HookTLS.allCases.map(\.rawValue))),
          "HTTPS peers: verify (default) or, for redfish-register only, accept-self-signed "
              + "(the BMC's certificate pinned on first use)"),
        F("password", .scalar(.oneOf(HookPassword.allCases.map(\.rawValue))),
          "redfish-register: keep (default) the credentials file's password, or rotate it to one generated per BMC"),
    ])

    static let document: Shape = .object([
        F("apiVersion", .scalar(.oneOf([apiVersion])), required: true, "the zone file format version"),
        F("zone", .scalar(.label), required: true, "the zone's name"),
        F("domain", .scalar(.domain), required: true, "DNS domain of every name in the zone"),
        F("naming", .object([
            F("host", .scalar(.nameTemplate), "host names (default \(defaultHostName))"),
            F("lom", .scalar(.nameTemplate), "BMC names (default \(defaultLOMName))"),
            F("switch", .scalar(.nameTemplate), "switch names (default \(defaultSwitchName))"),
        ]), "how location becomes a name"),
        F("defaults", .object([
            F("lease", .scalar(.duration), "lease time (default \(defaultLease))"),
            F("dns", .list(.scalar(.ipv4)), "DNS servers (option 6)"),
            F("ntp", .list(.scalar(.ipv4)), "NTP servers (option 42)"),
            F("boot-server", .scalar(.ipv4), "next-server: where TFTP and HTTP are reached"),
        ]), "zone-wide answers"),
        F("pods", .list(pod), required: true, "the zone's pods"),
        F("roles", .dictionary(key: .label, value: role), "what each kind of machine gets"),
        F("profiles", .dictionary(key: .label, value: profile), "boot profiles: templates per host"),
        F("hooks", .dictionary(key: .label, value: hook), "programs run on DHCP and zone events"),
    ])
}
