import Hummingbird
import NIOCore
import NIOHTTPTypes

/// Ends a connection whose response goes out before its request has been read in full — a 413
/// for a body over the limit, a 401 for a bad key — as RFC 9112 §9.6 asks, without the client
/// losing that response.
///
/// Left to Hummingbird, such a connection stays open: after a `Connection: close` request it
/// stops reading and waits for the client to close, so a client that writes its whole body
/// before reading (Python's `urllib`) blocks on a full socket until the idle timeout and then
/// sees a broken pipe instead of the answer; after a keep-alive request it reads the rest of the
/// body, however long, to reach the next request. Here the early response says
/// `Connection: close`, and once it is written the server closes its output (the client reads
/// the response, then EOF) and goes on reading what the client still sends, dropping it: the
/// client's writes complete, and no unread data makes the kernel answer with a reset, which
/// could discard the response before the client reads it. The connection then closes when the
/// request ends, when the client closes its side, or when `LingerBounds` run out.
///
/// Sits between the HTTP codec and Hummingbird's connection handling
/// (`HTTP1Channel.Configuration.additionalChannelHandlers`), so it sees request parts as they are
/// decoded, before the application consumes them, and response parts as they are written.
final class EarlyResponseCloseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// How long the rest of a refused request is read before the connection closes regardless.
    /// nginx's lingering close uses the same defaults: a body can take 30 s in all to arrive,
    /// with no pause longer than about 5 s.
    struct LingerBounds: Sendable {
        var total: TimeAmount
        /// A client that sends nothing for between one and two of these is closed on.
        var idle: TimeAmount

        static let standard = LingerBounds(total: .seconds(30), idle: .seconds(5))
    }

    private enum State {
        case forwarding
        /// An early response's head has gone out with `Connection: close`; its end has not.
        case answeringEarly
        /// The early response is written and the output closed; what arrives is dropped.
        case draining(readSinceIdleCheck: Bool)
        case closed
    }

    private let bounds: LingerBounds
    private var state = State.forwarding
    /// Requests whose end has been decoded, and final responses begun: a response is early when
    /// the request it answers (the next not yet answered, pipelined requests included) has not ended.
    private var requestsEnded = 0
    private var responsesStarted = 0
    private var totalTimer: Scheduled<Void>?
    private var idleTimer: Scheduled<Void>?

    init(bounds: LingerBounds = .standard) {
        self.bounds = bounds
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch state {
        case .forwarding, .answeringEarly:
            if case .end = part { requestsEnded += 1 }
            context.fireChannelRead(data)
        case .draining:
            state = .draining(readSinceIdleCheck: true)
            // The refused request has been read to its end: nothing is left unread, so closing
            // now cannot reset the connection under the client's unread response.
            if case .end = part { close(context) }
        case .closed:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // The application no longer consumes this connection's input, so its back pressure
        // would stop reads; the drain asks for them itself.
        if case .draining = state { context.read() }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .draining = state, let event = event as? ChannelEvent, event == .inputClosed {
            close(context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A parse error in what is being dropped concerns nobody: the answer has been given.
        if case .draining = state {
            close(context)
            return
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .closed
        cancelLingerTimers()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelLingerTimers()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var response) where response.status.kind != .informational:
            responsesStarted += 1
            guard case .forwarding = state, requestsEnded < responsesStarted else {
                context.write(data, promise: promise)
                return
            }
            state = .answeringEarly
            response.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(response)), promise: promise)
        case .end where isAnsweringEarly:
            let written = context.eventLoop.makePromise(of: Void.self)
            if let promise { written.futureResult.cascade(to: promise) }
            written.futureResult.assumeIsolated().whenComplete { result in
                switch result {
                case .success: self.responseWritten(context)
                case .failure: self.close(context)
                }
            }
            context.write(data, promise: written)
        default:
            context.write(data, promise: promise)
        }
    }

    private var isAnsweringEarly: Bool {
        if case .answeringEarly = state { true } else { false }
    }

    /// The early response is on the wire: close at once if its request has ended meanwhile,
    /// otherwise close the output and drain.
    private func responseWritten(_ context: ChannelHandlerContext) {
        guard case .answeringEarly = state else { return }
        if requestsEnded >= responsesStarted {
            close(context)
            return
        }
        state = .draining(readSinceIdleCheck: false)
        // Hummingbird half-closes too after a `Connection: close` request; whichever is second
        // finds the output closed already, which is what it asked for.
        context.close(mode: .output, promise: nil)
        totalTimer = context.eventLoop.assumeIsolated().scheduleTask(in: bounds.total) { self.close(context) }
        scheduleIdleCheck(context)
        context.read()
    }

    private func scheduleIdleCheck(_ context: ChannelHandlerContext) {
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: bounds.idle) {
            guard case .draining(let readSinceIdleCheck) = self.state else { return }
            guard readSinceIdleCheck else {
                self.close(context)
                return
            }
            self.state = .draining(readSinceIdleCheck: false)
            self.scheduleIdleCheck(context)
        }
    }

    private func close(_ context: ChannelHandlerContext) {
        if case .closed = state { return }
        state = .closed
        cancelLingerTimers()
        context.close(promise: nil)
    }

    private func cancelLingerTimers() {
        totalTimer?.cancel()
        idleTimer?.cancel()
        totalTimer = nil
        idleTimer = nil
    }
}

@available(*, unavailable)
extension EarlyResponseCloseHandler: Sendable {}
