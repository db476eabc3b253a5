//! SDP offer/answer between WebRTC (UDP/TLS/RTP/SAVPF, ICE, DTLS) and plain RTP/AVP.
