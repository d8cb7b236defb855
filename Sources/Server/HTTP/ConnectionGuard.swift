import Boot
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// How long an HTTP connection may take at each step and how many may be open: a client
/// that connects and sends nothing, sends its request a byte at a time, stays idle after an
/// answer or stops reading one is cut after a bounded time, and strangers cannot hold every
/// connection slot.
public struct HTTPConnectionLimits: Sendable, Equatable {
    /// A connection's first request, head and body, must have arrived this long after it opened.
    public var requestTimeout: TimeAmount
    /// A kept-alive connection's next request must have arrived this long after the last answer.
    public var idleTimeout: TimeAmount
    /// An answer the client stops reading (the socket stays unwritable) is abandoned after this long.
    public var sendTimeout: TimeAmount
    /// Open connections on the listeners sharing one `HTTPConnections`.
    public var maxConnections: Int
    /// Open connections from one client address.
    public var maxConnectionsPerAddress: Int

    public init(requestTimeout: TimeAmount = .seconds(10), idleTimeout: TimeAmount = .seconds(15),
                sendTimeout: TimeAmount = .seconds(30), maxConnections: Int = 1024, maxConnectionsPerAddress: Int = 64) {
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
        self.sendTimeout = sendTimeout
        self.maxConnections = maxConnections
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
    }
}

/// What became of the connections, by reason; `open` is the number open now.
public struct HTTPConnectionCounters: Sendable, Codable, Equatable {
    public var accepted = 0
    public var open = 0
    /// Closed at once: the client's address already held its share.
    public var refusedPerAddress = 0
    /// Closed at once: every connection slot was busy with a request.
    public var refusedFull = 0
    /// Idle connections closed to make room for a new one.
    public var evictedIdle = 0
    /// Cut because the first request had not fully arrived in time (includes connections that never sent).
    public var requestTimeouts = 0
    /// Cut because a kept-alive connection's next request had not fully arrived in time.
    public var idleTimeouts = 0
    /// Cut because the client stopped reading an answer.
    public var sendTimeouts = 0

    public init() {}
}

/// The connection table of one or more HTTP listeners: admission (`ConnectionAdmission`),
/// the channels to close when one is evicted, and the counters.
public final class HTTPConnections: Sendable {
    public let limits: HTTPConnectionLimits
    private struct State {
        var admission: ConnectionAdmission<ObjectIdentifier, String>
        var channels: [ObjectIdentifier: any Channel] = [:]
        var counters = HTTPConnectionCounters()
    }
    private let state: Mutex<State>

    public init(limits: HTTPConnectionLimits = .init()) {
        self.limits = limits
        state = Mutex(State(admission: .init(maxConnections: limits.maxConnections,
                                             maxPerSource: limits.maxConnectionsPerAddress)))
    }

    public var counters: HTTPConnectionCounters { state.withLock { $0.counters } }

    /// Whether the connection may stay open. An idle connection it replaces is closed here,
    /// outside the lock: closing runs that connection's handlers, which come back to this table.
    func admit(_ key: ObjectIdentifier, channel: any Channel, source: String) -> ConnectionAdmission<ObjectIdentifier, String>.Decision {
        let (decision, evicted): (ConnectionAdmission<ObjectIdentifier, String>.Decision, (any Channel)?) = state.withLock { state in
            let decision = state.admission.admit(key, from: source, now: NIODeadline.now().uptimeNanoseconds)
            var evicted: (any Channel)?
            switch decision {
            case .admitted:
                state.counters.accepted += 1
                state.channels[key] = channel
            case .admittedEvicting(let victim):
                state.counters.accepted += 1
                state.counters.evictedIdle += 1
                evicted = state.channels.removeValue(forKey: victim)
                state.channels[key] = channel
            case .refusedSourceFull:
                state.counters.refusedPerAddress += 1
            case .refusedFull:
                state.counters.refusedFull += 1
            }
            state.counters.open = state.admission.count
            return (decision, evicted)
        }
        evicted?.close(promise: nil)
        return decision
    }

    func busy(_ key: ObjectIdentifier) { state.withLock { $0.admission.busy(key) } }

    func idle(_ key: ObjectIdentifier) {
        state.withLock { $0.admission.idle(key, now: NIODeadline.now().uptimeNanoseconds) }
    }

    func closed(_ key: ObjectIdentifier) {
        state.withLock { state in
            state.admission.closed(key)
            state.channels[key] = nil
            state.counters.open = state.admission.count
        }
    }

    func count(_ body: (inout HTTPConnectionCounters) -> Void) { state.withLock { body(&$0.counters) } }

    /// Hummingbird's HTTP/1 server with `ConnectionGuard` on every connection.
    func serverBuilder(logger: Logger) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            GuardedHTTP1Channel(http: HTTP1Channel(responder: responder), connections: self, logger: logger)
        }
    }
}

/// Hummingbird's HTTP/1 channel with a `ConnectionGuard` between NIO's request decoder and
/// Hummingbird's codec, where it sees where each request and answer begins and ends.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let http: HTTP1Channel
    let connections: HTTPConnections
    let logger: Logger

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let connections = connections, guardLogger = self.logger
        return http.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(ConnectionGuard(connections: connections, logger: guardLogger), position: .after(decoder))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async { await http.handle(value: value, logger: logger) }
}

/// One connection's admission and deadlines. The request deadline runs from the moment the
/// connection opens (or the last answer ends) until a whole request has arrived, so neither
/// silence nor a request dripped a byte at a time keeps a connection; while the server
/// answers, only the client's reading is timed (the socket staying unwritable).
///
/// Requests on a kept-alive connection come thousands a second: each one only moves the
/// deadline, and one timer, re-armed when it fires early, enforces it (a timer scheduled
/// and cancelled per request cost a tenth of the boot script's throughput).
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let connections: HTTPConnections
    private let logger: Logger
    private var started = false
    private var admitted = false
    private var requestsRead = 0
    private var answersSent = 0
    private var readingRequest = false
    /// When the awaited request must have fully arrived; nil while none is awaited.
    private var requestDeadline: NIODeadline?
    /// Whether that is the connection's first request (counted apart from idle keep-alives).
    private var awaitingFirst = true
    private var deadlineTimer: Scheduled<Void>?
    /// When `deadlineTimer` fires.
    private var timerDeadline: NIODeadline = .distantFuture
    private var stalledSend: Scheduled<Void>?

    init(connections: HTTPConnections, logger: Logger) {
        self.connections = connections
        self.logger = logger
    }

    private var key: ObjectIdentifier { ObjectIdentifier(self) }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        // Active first, then (if refused) inactive: the order every handler after this one expects.
        context.fireChannelActive()
        start(context)
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let source = context.channel.remoteAddress?.ipAddress ?? "?"
        switch connections.admit(key, channel: context.channel, source: source) {
        case .admitted, .admittedEvicting:
            admitted = true
            awaitRequest(context, within: connections.limits.requestTimeout, first: true)
        case .refusedSourceFull:
            logger.debug("HTTP connection from \(source) refused: it holds \(connections.limits.maxConnectionsPerAddress) already")
            context.close(promise: nil)
        case .refusedFull:
            logger.debug("HTTP connection from \(source) refused: all \(connections.limits.maxConnections) are busy")
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            readingRequest = true
            connections.busy(key)
        case .body:
            break
        case .end:
            readingRequest = false
            requestsRead += 1
            requestDeadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            answersSent += 1
            // Every request read has its answer: the next must arrive within the idle timeout.
            if answersSent >= requestsRead, admitted {
                if !readingRequest { connections.idle(key) }
                awaitRequest(context, within: connections.limits.idleTimeout, first: false)
            }
        }
        context.write(data, promise: promise)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            stalledSend?.cancel()
            stalledSend = nil
        } else if stalledSend == nil, admitted {
            stalledSend = context.eventLoop.assumeIsolated().scheduleTask(in: connections.limits.sendTimeout) {
                self.stalledSend = nil
                self.connections.count { $0.sendTimeouts += 1 }
                self.logger.debug("HTTP connection from \(self.peer(context)) cut: it stopped reading its answer")
                context.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { stop() }

    private func stop() {
        requestDeadline = nil
        deadlineTimer?.cancel()
        deadlineTimer = nil
        stalledSend?.cancel()
        stalledSend = nil
        if admitted {
            admitted = false
            connections.closed(key)
        }
    }

    private func awaitRequest(_ context: ChannelHandlerContext, within timeout: TimeAmount, first: Bool) {
        let deadline = NIODeadline.now() + timeout
        requestDeadline = deadline
        awaitingFirst = first
        // A timer set for later than this deadline (an idle timeout shorter than the request
        // timeout) is set anew; one set for earlier re-arms itself when it fires.
        if deadlineTimer == nil || deadline < timerDeadline { armTimer(context, at: deadline) }
    }

    private func armTimer(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        deadlineTimer?.cancel()
        timerDeadline = deadline
        deadlineTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.deadlineTimer = nil
            self.deadlineReached(context)
        }
    }

    private func deadlineReached(_ context: ChannelHandlerContext) {
        guard admitted, let deadline = requestDeadline else { return }  // the request came: nothing to do
        if deadline > .now() {
            armTimer(context, at: deadline)  // moved later since this timer was set
            return
        }
        // The idle clock started when the answer's end was queued; a slow client still
        // draining it is not idle yet (a client that stopped reading is the send timeout's).
        if !awaitingFirst, let queued = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes), queued > 0 {
            awaitRequest(context, within: connections.limits.idleTimeout, first: false)
            return
        }
        let first = awaitingFirst
        connections.count { counters in
            if first { counters.requestTimeouts += 1 } else { counters.idleTimeouts += 1 }
        }
        logger.debug("HTTP connection from \(peer(context)) cut: no whole request in time")
        context.close(promise: nil)
    }

    private func peer(_ context: ChannelHandlerContext) -> String { context.channel.remoteAddress?.ipAddress ?? "?" }
}
