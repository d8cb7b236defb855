import Zone

/// Zero-touch provisioning of switches: which file each platform fetches, and the
/// built-in templates it is rendered from when the switch's role has no profile file of
/// the same name.
public enum SwitchZTP {
    /// The file a platform's ZTP fetches first, served at `/hosts/<switch>/<file>`; nil for
    /// ONIE, which fetches the installer instead.
    public static func fileName(for platform: ZTPPlatform) -> String? {
        switch platform {
        case .cumulus: "ztp.sh"
        case .sonic: "ztp.json"
        case .arista: "bootstrap"
        case .onie: nil
        }
    }

    /// The marker Cumulus Linux ZTP requires in a script before it runs it.
    public static let cumulusMarker = "CUMULUS-AUTOPROVISIONING"

    /// Built-in files by platform, in the order they are listed: served name and template text.
    static func builtInFiles(for platform: ZTPPlatform) -> [(name: String, template: ZoneTemplate)] {
        switch platform {
        case .cumulus: [("ztp.sh", cumulusScript)].compactMap(compiled)
        case .sonic: [("ztp.json", sonicZTPJSON), ("config_db.json", sonicConfigDB)].compactMap(compiled)
        case .arista: [("bootstrap", aristaBootstrap)].compactMap(compiled)
        case .onie: []
        }
    }

    /// The label `zonectl render` shows for a built-in template.
    static func builtInLabel(_ platform: ZTPPlatform, _ name: String) -> String { "built-in \(platform.rawValue) \(name)" }

    private static func compiled(_ file: (String, String)) -> (name: String, template: ZoneTemplate)? {
        // The texts below are constants; BootTests render each one, so a mistake fails there.
        (try? ZoneTemplate(text: file.1)).map { (file.0, $0) }
    }

    // Each script fetches /hosts/<name>/booted last, so the server logs that its ZTP ran
    // to the end, as a host's boot script does.

    static let cumulusScript = """
        #!/bin/bash
        # CUMULUS-AUTOPROVISIONING
        # ZoneBoot ZTP for {{name}}: switch {{device}} of pod {{pod}}, zone {{zone}}.
        # Rendered for {{address}}/{{prefix_length}} on {{switch}} {{port}}; replace it with a
        # profile file named ztp.sh in the role's boot profile.
        set -euo pipefail

        if command -v nv >/dev/null 2>&1; then
            nv set system hostname {{name}}
            {{#dns}}
            nv set service dns mgmt server {{.}}
            {{/dns}}
            {{#ntp}}
            nv set service ntp mgmt server {{.}}
            {{/ntp}}
            nv config apply --assume-yes
        else
            hostnamectl set-hostname {{name}}
            echo {{name}} > /etc/hostname
        fi
        {{#boot_url}}

        curl -fsS -o /dev/null {{boot_url}}/hosts/{{name}}/booted || true
        {{/boot_url}}
        exit 0

        """

    /// SONiC ZTP JSON: the documented top-level `ztp` object whose sections run in name
    /// order; `configdb-json` merges the switch's rendered `config_db.json` into Config DB.
    /// That file is partial (hostname, management address, DNS, NTP): the plugin's default
    /// `clear-config: true` would `config reload` it and leave the switch without the PORT
    /// table its hwsku wrote at first boot, so it is loaded (`config load`, a merge) and then
    /// saved (`config save`). Without `destination` the plugin copies nothing over
    /// `/etc/sonic/config_db.json`; `save-config` writes the merged whole there instead.
    /// `overwrite-device-metadata` stays unset (false): the plugin then keeps the switch's own
    /// platform, hwsku and mac and takes only our hostname.
    static let sonicZTPJSON = """
        {
          "ztp": {
            "01-configdb-json": {
              "url": {
                "source": "{{boot_url}}/hosts/{{name}}/config_db.json"
              },
              "clear-config": false,
              "save-config": true
            }
          }
        }

        """

    static let sonicConfigDB = """
        {
          "DEVICE_METADATA": {
            "localhost": {
              "hostname": "{{name}}"
            }
          },
          "MGMT_INTERFACE": {
            "eth0|{{address}}/{{prefix_length}}": {
              {{#gateway}}"gwaddr": "{{gateway}}"{{/gateway}}
            }
          },
          "DNS_NAMESERVER": {
            {{#dns}}"{{.}}": {}{{^last()}},{{/last()}}{{/dns}}
          },
          "NTP_SERVER": {
            {{#ntp}}"{{.}}": {}{{^last()}},{{/last()}}{{/ntp}}
          }
        }

        """

    /// EOS ZTP fetches the option 67 URL and, the file being a script, runs it; when it exits
    /// 0 EOS reboots into `/mnt/flash/startup-config` (arista-eosplus/ztpserver,
    /// docs/overview.rst "ZTP Intro"). ztpserver's own bootstrap (client/bootstrap, `main`)
    /// fails rather than exit 0 without a non-empty startup-config; this one fails the same
    /// way (`set -e` and the last check), so EOS does not reboot into a config it lacks.
    static let aristaBootstrap = """
        #!/bin/bash
        # ZoneBoot ZTP bootstrap for {{name}}: switch {{device}} of pod {{pod}}, zone {{zone}}.
        # Replace it with a profile file named bootstrap in the role's boot profile.
        set -eu
        cat > /mnt/flash/startup-config <<'EOF'
        hostname {{name}}
        {{#dns}}
        ip name-server {{.}}
        {{/dns}}
        {{#ntp}}
        ntp server {{.}}
        {{/ntp}}
        interface Management1
           ip address {{address}}/{{prefix_length}}
        {{#gateway}}
        ip route 0.0.0.0/0 {{gateway}}
        {{/gateway}}
        EOF
        test -s /mnt/flash/startup-config
        {{#boot_url}}
        curl -fsS -o /dev/null {{boot_url}}/hosts/{{name}}/booted || true
        {{/boot_url}}
        exit 0

        """
}

extension IdentityAnswer {
    /// What a switch's ZTP is pointed at, by what asked: ONIE gets the role's NOS installer
    /// whatever the platform (it installs the NOS first); anything else on the port gets the
    /// platform's own file. Nil for a role without `ztp`, or with nothing to point at.
    public func ztpTarget(for kind: DeviceKind) -> BootTarget? {
        guard let ztp else { return nil }
        if kind == .onie || ztp == .onie { return installerURL.map(BootTarget.installer) }
        guard let ztpFileURL else { return nil }
        switch ztp {
        case .cumulus: return .provisioningScript(ztpFileURL)
        case .sonic, .arista: return .url(ztpFileURL, vendorClass: nil)
        case .onie: return nil
        }
    }
}
