import DHCPv4
import Zone

/// The switch clients `zonectl render` asks as, to show what each would get on a switch port
/// and what it would do with it. The options are what each client's own code sends; the
/// serials and models are examples.
public enum SwitchZTPClient: String, Sendable, CaseIterable {
    case onie, sonic, cumulus, arista

    /// The platform whose built-in files this client's ZTP reads; nil for ONIE (an installer).
    var platform: ZTPPlatform? {
        switch self {
        case .onie: nil
        case .sonic: .sonic
        case .cumulus: .cumulus
        case .arista: .arista
        }
    }

    /// A DISCOVER as the client sends it.
    public var discover: RequestFacts {
        var options = DHCPOptions()
        options.set(DHCPOptionCode.messageType, [DHCPMessageType.discover.rawValue])
        for (code, data) in clientOptions { options.set(code, data) }
        let message = DHCPMessage(op: .request, xid: 0, chaddr: [0, 0, 0, 0, 0, 0], options: options)
        // A request with a message type always has facts; a client-less fallback keeps this total.
        return RequestFacts(message: message) ?? RequestFacts.discover(vendorClass: nil)
    }

    private var clientOptions: [(UInt8, [UInt8])] {
        switch self {
        case .onie:
            [(60, Array("onie_vendor:x86_64-accton_as7712_32x-r0".utf8)), (77, [20] + Array("onie_dhcp_user_class".utf8)),
             (61, [0] + Array("AC7712X1234".utf8))]
        case .sonic:
            [(77, Array("SONiC-ZTP".utf8)), (61, Array("SONiC##7712-32X-O-AC-F##771232X1941045".utf8)),
             (55, [1, 3, 6, 12, 15, 28, 42, 66, 67, 239])]
        case .cumulus:
            [(55, [1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42, 239])]
        case .arista:
            [(60, Array("Arista;DCS-7050SX3-48YC8;11.00;JPE19181234".utf8)), (55, [1, 3, 6, 12, 15, 28, 42, 66, 67])]
        }
    }

    /// What this client does with a role's answer, in a sentence; nil where it gets nothing to act on.
    public func action(role platform: ZTPPlatform, installer: Bool) -> String? {
        if self == .onie || platform == .onie {
            guard installer else { return nil }
            return self == .onie
                ? "downloads the installer and runs it: the NOS it installs replaces what the switch had"
                : "gets ONIE's installer URL, which only ONIE acts on"
        }
        guard self.platform == platform else { return foreignAction(platform) }
        return switch platform {
        case .cumulus:
            "runs ztp.sh once (it holds the CUMULUS-AUTOPROVISIONING marker): hostname, DNS and NTP set with nv, "
                + "merged into the switch's NVUE config"
        case .sonic:
            "runs ztp.json: configdb-json merges config_db.json into Config DB (config load) and saves it "
                + "(config save); the hwsku's ports and platform metadata are kept, the hostname is ours"
        case .arista:
            "runs bootstrap, which writes /mnt/flash/startup-config whole; on exit 0 EOS reboots into it"
        case .onie:
            nil
        }
    }

    /// What this client does with another platform's answer: each NOS reads only its own
    /// options (Cumulus 239; EOS 67; SONiC 67, else 239 as a script: sonic-ztp
    /// `ztp-engine.py`), and reads what it fetches its own way.
    private func foreignAction(_ platform: ZTPPlatform) -> String {
        switch (self, platform) {
        case (.sonic, .cumulus):
            "with no option 67, SONiC ZTP runs the option 239 file as its provisioning script: "
                + "it would run ztp.sh, written for Cumulus"
        case (.sonic, .arista):
            "SONiC reads the option 67 file as its ztp.json: the EOS bootstrap is not JSON, so its ZTP fails"
        case (.cumulus, _):
            "Cumulus ZTP reads option 239 only: it ignores option 67 and provisions nothing"
        case (.arista, .cumulus):
            "EOS ZTP reads option 67 only: it ignores option 239 and keeps asking"
        case (.arista, .sonic):
            "EOS takes an option 67 file that is not a script as its startup-config: "
                + "it would reboot with ztp.json as its configuration"
        default:
            "gets the \(platform.rawValue) answer, which it does not read"
        }
    }
}
