// The peer frame codec lives in its own module (PeerCodec, which a fuzz target links
// without sockets); the transport's users see it through Transport as before.
@_exported import PeerCodec
