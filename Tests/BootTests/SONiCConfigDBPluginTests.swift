import Foundation
import TestSupport
import Testing
import Boot
import Zone

/// Config DB as `config_db.json` writes it: table → key → field → value.
private typealias ConfigDB = [String: [String: [String: String]]]

/// What a SONiC switch ends up with after its ZTP runs one `configdb-json` section, written
/// from the client's published source (the code is not copied):
///
/// - sonic-net/sonic-ztp `src/usr/lib/ztp/plugins/configdb-json`, commit
///   036c8eaad345102e92d085bf36f30e4585934135: options `clear-config` (default true),
///   `save-config` (default false), `overwrite-device-metadata` (default false), read as
///   booleans or the strings "true"/"false" (`ZTPLib.getValue`); `__sanitize_config` puts the
///   running `platform`, `hwsku` and `mac` into a downloaded `DEVICE_METADATA|localhost` and
///   leaves its other fields (the hostname) alone; clearing runs `config reload -f -y <file>`,
///   else `config load -y <file>`; after a reload the file is moved to `destination`, or to
///   `/etc/sonic/config_db.json` when there is none; after a load only to a `destination`
///   given; `save-config` runs `config save -y`. Before a reload, and after a load or a save,
///   `__stop_dhcp` ends ZTP's DHCP where ZTP's profile is active: it deletes `ZTP|mode` and
///   restarts `interfaces-config`, which configures `eth0` from Config DB's `MGMT_INTERFACE`.
/// - sonic-net/sonic-utilities `config/main.py`: `reload` flushes Config DB and writes
///   `/etc/sonic/init_cfg.json` plus the file; `load` writes the file over what is there;
///   both through `sonic-cfggen --write-to-db`, i.e. swss-common `ConfigDBConnector.mod_config`,
///   which sets each key's fields and keeps the fields and keys it does not name.
private struct SONiCSwitch {
    var running: ConfigDB
    /// `/etc/sonic/config_db.json`: what the switch boots with next time.
    var startup: ConfigDB
    var initConfig: ConfigDB = [:]
    var commands: [String] = []

    enum Failure: Error { case noURL, downloadedFileHasNoRunningMetadata(String) }

    mutating func runConfigDBJSON(section: [String: Any], downloaded: ConfigDB) throws {
        let url = section["url"] ?? section["dynamic-url"]
        guard let url else { throw Failure.noURL }
        let destination = (url as? [String: Any])?["destination"] as? String
        let clearConfig = Self.flag(section["clear-config"], default: true)
        let saveConfig = Self.flag(section["save-config"], default: false)
        let overwriteMetadata = Self.flag(section["overwrite-device-metadata"], default: false)

        var file = downloaded
        if !overwriteMetadata {
            if var localhost = file["DEVICE_METADATA"]?["localhost"] {
                let running = running["DEVICE_METADATA"]?["localhost"] ?? [:]
                for field in ["platform", "hwsku", "mac"] {
                    // The plugin indexes the running entry: a field missing there fails the section.
                    guard let value = running[field] else { throw Failure.downloadedFileHasNoRunningMetadata(field) }
                    localhost[field] = value
                }
                file["DEVICE_METADATA"]?["localhost"] = localhost
            } else if clearConfig {
                file["DEVICE_METADATA", default: [:]]["localhost"] = running["DEVICE_METADATA"]?["localhost"] ?? [:]
            }
        }

        if clearConfig {
            stopZTPDHCP()
            commands.append("config reload -f -y /tmp/config_dl.json")
            running = Self.merged(file, over: initConfig)
        } else {
            commands.append("config load -y /tmp/config_dl.json")
            running = Self.merged(file, over: running)
        }
        if let target = destination ?? (clearConfig ? "/etc/sonic/config_db.json" : nil) {
            commands.append("mv /tmp/config_dl.json \(target)")
            if target == "/etc/sonic/config_db.json" { startup = file }
        }
        if !clearConfig || saveConfig { stopZTPDHCP() }
        if saveConfig {
            commands.append("config save -y")
            startup = running
        }
    }

    private mutating func stopZTPDHCP() {
        guard running["ZTP"]?["mode"]?["profile"] == "active" else { return }
        running["ZTP"]?["mode"] = nil
        commands.append("systemctl restart interfaces-config")
    }

    private static func flag(_ value: Any?, default fallback: Bool) -> Bool {
        switch value {
        case let flag as Bool: flag
        case let text as String where text.lowercased() == "true": true
        case let text as String where text.lowercased() == "false": false
        default: fallback
        }
    }

    /// `mod_config`: every key's fields set, everything else kept.
    private static func merged(_ file: ConfigDB, over base: ConfigDB) -> ConfigDB {
        var result = base
        for (table, entries) in file {
            for (key, fields) in entries {
                result[table, default: [:]][key, default: [:]].merge(fields) { _, new in new }
            }
        }
        return result
    }
}

/// A SONiC switch after its first boot in ZTP mode: the hwsku's ports (written by
/// `sonic-cfggen -H -k`), its platform metadata, hostname `sonic`, ZTP's profile active
/// (sonic-ztp `src/usr/lib/ztp/templates/ztp-config.j2`).
private func freshSwitch() -> SONiCSwitch {
    let config: ConfigDB = [
        "DEVICE_METADATA": ["localhost": ["hostname": "sonic", "platform": "x86_64-accton_as7712_32x-r0",
                                          "hwsku": "Accton-AS7712-32X", "mac": "00:11:22:33:44:55",
                                          "type": "not-provisioned"]],
        "PORT": ["Ethernet0": ["lanes": "65,66,67,68", "alias": "Eth1", "speed": "100000"],
                 "Ethernet4": ["lanes": "69,70,71,72", "alias": "Eth2", "speed": "100000"]],
        "ZTP": ["mode": ["profile": "active", "inband": "true", "out-of-band": "true"]],
    ]
    return SONiCSwitch(running: config, startup: config, initConfig: ["FEATURE": ["bgp": ["state": "enabled"]]])
}

@Suite struct SONiCConfigDBPluginTests {
    private func renderedSONiC() throws -> (ztp: [String: Any], configDB: ConfigDB) {
        var text = try String(contentsOfFile: exampleZonePath, encoding: .utf8)
        text = text.replacingOccurrences(of: "  tor:\n    ztp: cumulus\n", with: "  tor:\n    ztp: sonic\n")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sonic-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: URL(fileURLWithPath: exampleZonePath).deletingLastPathComponent(), to: folder)
        let path = folder.appendingPathComponent("ams1.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let zone = try ZoneLoader.load(path: path)
        let identity = try #require(zone.identity(named: "ams1-p01-tor-a"))
        #expect(zone.role(named: identity.role)?.ztp?.value == .sonic)
        let ztp = try #require(HostFiles.render("ztp.json", of: identity, in: zone))
        let db = try #require(HostFiles.render("config_db.json", of: identity, in: zone))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(ztp.content.utf8)) as? [String: Any])
        return (try #require(object["ztp"] as? [String: Any]),
                try JSONDecoder().decode(ConfigDB.self, from: Data(db.content.utf8)))
    }

    @Test func theBuiltInZTPJSONMergesThePartialConfigAndKeepsTheSwitchsPorts() throws {
        let (ztp, configDB) = try renderedSONiC()
        #expect(Array(ztp.keys) == ["01-configdb-json"])
        let section = try #require(ztp["01-configdb-json"] as? [String: Any])
        var device = freshSwitch()
        let ports = try #require(device.running["PORT"])
        try device.runConfigDBJSON(section: section, downloaded: configDB)

        #expect(device.commands == ["config load -y /tmp/config_dl.json", "systemctl restart interfaces-config", "config save -y"])
        // ZTP's DHCP is over: eth0 is configured from MGMT_INTERFACE, and saved that way.
        #expect(device.running["ZTP"]?["mode"] == nil && device.startup["ZTP"]?["mode"] == nil)
        // Running and startup config keep the hwsku's ports and gain the zone's identity.
        for config in [device.running, device.startup] {
            #expect(config["PORT"] == ports)
            let metadata = try #require(config["DEVICE_METADATA"]?["localhost"])
            #expect(metadata["hostname"] == "ams1-p01-tor-a")
            #expect(metadata["hwsku"] == "Accton-AS7712-32X" && metadata["platform"] == "x86_64-accton_as7712_32x-r0")
            #expect(config["MGMT_INTERFACE"]?["eth0|198.18.18.11/24"] == ["gwaddr": "198.18.18.1"])
            #expect(config["DNS_NAMESERVER"]?.keys.sorted() == ["198.18.0.53"])
        }
    }

    @Test func theFormerZTPJSONReloadedOverThePortsWhichIsWhatTheModelCatches() throws {
        // The file this server used to render: a destination and the plugin's defaults.
        let section: [String: Any] = ["url": ["source": "http://198.18.0.10/hosts/ams1-p01-tor-a/config_db.json",
                                              "destination": "/etc/sonic/config_db.json"]]
        let (_, configDB) = try renderedSONiC()
        var device = freshSwitch()
        try device.runConfigDBJSON(section: section, downloaded: configDB)
        #expect(device.commands == ["systemctl restart interfaces-config", "config reload -f -y /tmp/config_dl.json",
                                    "mv /tmp/config_dl.json /etc/sonic/config_db.json"])
        #expect(device.running["PORT"] == nil && device.startup["PORT"] == nil)
        #expect(device.running["DEVICE_METADATA"]?["localhost"]?["hostname"] == "ams1-p01-tor-a")
    }

    @Test func theSwitchsOwnPlatformMetadataWinsUnlessOverwriteIsAsked() throws {
        let downloaded: ConfigDB = ["DEVICE_METADATA": ["localhost": ["hostname": "leaf-9", "hwsku": "Wrong-SKU"]]]
        let section: [String: Any] = ["url": ["source": "x"], "clear-config": "False", "save-config": "true"]
        var device = freshSwitch()
        try device.runConfigDBJSON(section: section, downloaded: downloaded)
        #expect(device.running["DEVICE_METADATA"]?["localhost"]?["hwsku"] == "Accton-AS7712-32X")
        #expect(device.running["DEVICE_METADATA"]?["localhost"]?["hostname"] == "leaf-9")
        #expect(device.commands.last == "config save -y")
        var overwritten = freshSwitch()
        try overwritten.runConfigDBJSON(section: section.merging(["overwrite-device-metadata": true]) { $1 }, downloaded: downloaded)
        #expect(overwritten.running["DEVICE_METADATA"]?["localhost"]?["hwsku"] == "Wrong-SKU")
    }
}
