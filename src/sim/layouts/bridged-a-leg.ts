// Variable layouts of an inbound A-leg that the dialplan bridges to an outbound B-leg: L2 of the
// lab (sofia/a inbound, extension `bridge`, bridged to L3 on sofia/b). See variables.ts.

import { type VariableLayout, vars } from "./variables.js";

export interface BridgedALegLayouts {
  readonly create: VariableLayout;
  readonly answer: VariableLayout;
  readonly bridge: VariableLayout;
  /** `uuid_dump` of the live, bridged leg. */
  readonly dump: VariableLayout;
  /** The A side hung up first (the phone sent BYE): HANGUP, then UNBRIDGE, then the report. */
  readonly hungUpByA: {
    readonly hangup: VariableLayout;
    readonly unbridge: VariableLayout;
    /** CHANNEL_HANGUP_COMPLETE and CHANNEL_DESTROY. */
    readonly report: VariableLayout;
  };
  /** The B side hung up first: UNBRIDGE, then HANGUP (the same variables), then the report. */
  readonly hungUpByB: {
    readonly unbridgeAndHangup: VariableLayout;
    readonly report: VariableLayout;
  };
  /** Cancelled while the B-leg rang (ORIGINATOR_CANCEL): never answered, never bridged. */
  readonly cancelled: {
    readonly hangup: VariableLayout;
    readonly report: VariableLayout;
  };
}

export const BRIDGED_A_LEG: BridgedALegLayouts = {
  create: vars(
    "capture-plain.esl #464, capture-cancel-plain.esl #749",
    `
      direction uuid call_uuid session_id sip_from_user sip_from_uri sip_from_host
      video_media_flow text_media_flow channel_name sip_call_id sip_local_network_addr
      sip_network_ip sip_network_port sip_invite_stamp sip_received_ip sip_received_port
      sip_via_protocol sip_from_user_stripped sip_from_tag sofia_profile_name sofia_profile_url
      recovery_profile_name sip_Remote-Party-ID sip_cid_type sip_full_via sip_from_display
      sip_full_from sip_full_to sip_allow sip_req_user sip_req_port sip_req_uri sip_req_host
      sip_to_user sip_to_port sip_to_uri sip_to_host sip_contact_user sip_contact_port
      sip_contact_uri sip_contact_host sip_user_agent sip_via_host sip_via_rport max_forwards
      switch_r_sdp ep_codec_string rtp_use_codec_string remote_video_media_flow
      remote_text_media_flow remote_audio_media_flow audio_media_flow remote_media_ip
      remote_media_port rtp_audio_recv_pt rtp_use_codec_name rtp_use_codec_rate
      rtp_use_codec_ptime rtp_use_codec_channels rtp_last_audio_codec_string read_codec
      original_read_codec read_rate original_read_rate write_codec write_rate dtmf_type
      endpoint_disposition
    `,
  ),
  answer: vars(
    "capture-plain.esl #507",
    `
      direction uuid session_id sip_from_user sip_from_uri sip_from_host channel_name sip_call_id
      sip_local_network_addr sip_network_ip sip_network_port sip_invite_stamp sip_received_ip
      sip_received_port sip_via_protocol sip_from_user_stripped sip_from_tag sofia_profile_name
      sofia_profile_url recovery_profile_name sip_Remote-Party-ID sip_cid_type sip_full_via
      sip_from_display sip_full_from sip_full_to sip_allow sip_req_user sip_req_port sip_req_uri
      sip_req_host sip_to_user sip_to_port sip_to_uri sip_to_host sip_contact_user
      sip_contact_port sip_contact_uri sip_contact_host sip_user_agent sip_via_host sip_via_rport
      max_forwards switch_r_sdp ep_codec_string rtp_use_codec_string remote_video_media_flow
      remote_text_media_flow remote_audio_media_flow rtp_audio_recv_pt rtp_use_codec_name
      rtp_use_codec_rate rtp_use_codec_ptime rtp_use_codec_channels rtp_last_audio_codec_string
      read_codec original_read_codec read_rate original_read_rate write_codec write_rate dtmf_type
      endpoint_disposition rtcp_audio_interval_msec DP_MATCH fire_rtcp_events call_uuid
      hangup_after_bridge inherit_codec current_application_data current_application
      originate_disposition DIALSTATUS originate_signal_bond originated_legs switch_m_sdp
      video_media_flow text_media_flow audio_media_flow absolute_codec_string rtp_local_sdp_str
      local_media_ip local_media_port advertised_media_ip rtp_use_timer_name rtp_use_pt
      rtp_use_ssrc rtp_2833_send_payload rtp_2833_recv_payload remote_media_ip remote_media_port
    `,
  ),
  bridge: vars(
    "capture-plain.esl #509",
    `
      direction uuid session_id sip_from_user sip_from_uri sip_from_host channel_name sip_call_id
      sip_local_network_addr sip_network_ip sip_network_port sip_invite_stamp sip_received_ip
      sip_received_port sip_via_protocol sip_from_user_stripped sip_from_tag sofia_profile_name
      sofia_profile_url recovery_profile_name sip_Remote-Party-ID sip_cid_type sip_full_via
      sip_from_display sip_full_from sip_full_to sip_allow sip_req_user sip_req_port sip_req_uri
      sip_req_host sip_to_user sip_to_port sip_to_uri sip_to_host sip_contact_user
      sip_contact_port sip_contact_uri sip_contact_host sip_user_agent sip_via_host sip_via_rport
      max_forwards switch_r_sdp ep_codec_string rtp_use_codec_string remote_video_media_flow
      remote_text_media_flow remote_audio_media_flow rtp_audio_recv_pt rtp_use_codec_name
      rtp_use_codec_rate rtp_use_codec_ptime rtp_use_codec_channels rtp_last_audio_codec_string
      read_codec original_read_codec read_rate original_read_rate write_codec write_rate dtmf_type
      rtcp_audio_interval_msec DP_MATCH fire_rtcp_events call_uuid hangup_after_bridge
      inherit_codec current_application_data current_application originated_legs switch_m_sdp
      video_media_flow text_media_flow audio_media_flow rtp_local_sdp_str local_media_ip
      local_media_port advertised_media_ip rtp_use_timer_name rtp_use_pt rtp_use_ssrc
      rtp_2833_send_payload rtp_2833_recv_payload remote_media_ip remote_media_port
      endpoint_disposition originate_disposition DIALSTATUS originate_causes signal_bond
    `,
  ),
  dump: vars(
    "uuid_dump.txt",
    `
      direction uuid session_id sip_from_user sip_from_uri sip_from_host channel_name
      sip_local_network_addr sip_network_ip sip_network_port sip_invite_stamp sip_received_ip
      sip_received_port sip_via_protocol sip_from_user_stripped sofia_profile_name
      sofia_profile_url recovery_profile_name sip_Remote-Party-ID sip_cid_type sip_allow
      sip_req_user sip_req_port sip_req_uri sip_req_host sip_to_user sip_to_port sip_to_uri
      sip_to_host sip_contact_user sip_contact_port sip_contact_uri sip_contact_host
      sip_user_agent sip_via_host sip_via_rport max_forwards switch_r_sdp ep_codec_string
      rtp_use_codec_string remote_video_media_flow remote_text_media_flow remote_audio_media_flow
      rtp_audio_recv_pt rtp_use_codec_name rtp_use_codec_rate rtp_use_codec_ptime
      rtp_use_codec_channels rtp_last_audio_codec_string read_codec original_read_codec read_rate
      original_read_rate write_codec write_rate dtmf_type rtcp_audio_interval_msec DP_MATCH
      fire_rtcp_events call_uuid hangup_after_bridge inherit_codec current_application_data
      current_application originated_legs switch_m_sdp video_media_flow text_media_flow
      audio_media_flow rtp_local_sdp_str local_media_ip local_media_port advertised_media_ip
      rtp_use_timer_name rtp_use_pt rtp_use_ssrc rtp_2833_send_payload rtp_2833_recv_payload
      remote_media_ip remote_media_port endpoint_disposition originate_disposition DIALSTATUS
      originate_causes bridge_to last_bridge_to bridge_channel bridge_uuid signal_bond sip_to_tag
      sip_from_tag sip_cseq sip_call_id sip_full_via sip_from_display sip_full_from sip_full_to
      last_sent_callee_id_name last_sent_callee_id_number
    `,
  ),
  hungUpByA: {
    hangup: vars(
      "capture-plain.esl #681",
      `
        direction uuid session_id sip_from_user sip_from_uri sip_from_host channel_name
        sip_local_network_addr sip_network_ip sip_network_port sip_invite_stamp sip_received_ip
        sip_received_port sip_via_protocol sip_from_user_stripped sofia_profile_name
        sofia_profile_url recovery_profile_name sip_Remote-Party-ID sip_cid_type sip_allow
        sip_req_user sip_req_port sip_req_uri sip_req_host sip_to_user sip_to_port sip_to_uri
        sip_to_host sip_contact_user sip_contact_port sip_contact_uri sip_contact_host
        sip_user_agent sip_via_host sip_via_rport max_forwards switch_r_sdp ep_codec_string
        rtp_use_codec_string remote_video_media_flow remote_text_media_flow remote_audio_media_flow
        rtp_audio_recv_pt rtp_use_codec_name rtp_use_codec_rate rtp_use_codec_ptime
        rtp_use_codec_channels rtp_last_audio_codec_string read_codec original_read_codec read_rate
        original_read_rate write_codec write_rate dtmf_type rtcp_audio_interval_msec DP_MATCH
        fire_rtcp_events call_uuid hangup_after_bridge inherit_codec current_application_data
        current_application originated_legs switch_m_sdp video_media_flow text_media_flow
        audio_media_flow rtp_local_sdp_str local_media_ip local_media_port advertised_media_ip
        rtp_use_timer_name rtp_use_pt rtp_use_ssrc rtp_2833_send_payload rtp_2833_recv_payload
        remote_media_ip remote_media_port endpoint_disposition originate_disposition DIALSTATUS
        originate_causes bridge_to last_bridge_to bridge_channel bridge_uuid signal_bond sip_to_tag
        sip_from_tag sip_cseq sip_call_id sip_full_via sip_from_display sip_full_from sip_full_to
        last_sent_callee_id_name last_sent_callee_id_number sip_reason sip_term_status
        proto_specific_hangup_cause sip_term_cause last_bridge_role
      `,
    ),
    unbridge: vars(
      "capture-plain.esl #687",
      `
        direction uuid session_id sip_from_user sip_from_uri sip_from_host channel_name
        sip_local_network_addr sip_network_ip sip_network_port sip_invite_stamp sip_received_ip
        sip_received_port sip_via_protocol sip_from_user_stripped sofia_profile_name
        sofia_profile_url recovery_profile_name sip_Remote-Party-ID sip_cid_type sip_allow
        sip_req_user sip_req_port sip_req_uri sip_req_host sip_to_user sip_to_port sip_to_uri
        sip_to_host sip_contact_user sip_contact_port sip_contact_uri sip_contact_host sip_via_host
        sip_via_rport max_forwards switch_r_sdp ep_codec_string rtp_use_codec_string
        remote_video_media_flow remote_text_media_flow remote_audio_media_flow rtp_audio_recv_pt
        rtp_use_codec_name rtp_use_codec_rate rtp_use_codec_ptime rtp_use_codec_channels
        rtp_last_audio_codec_string read_codec original_read_codec read_rate original_read_rate
        write_codec write_rate dtmf_type rtcp_audio_interval_msec DP_MATCH fire_rtcp_events
        call_uuid hangup_after_bridge inherit_codec current_application_data current_application
        originated_legs switch_m_sdp video_media_flow text_media_flow audio_media_flow
        rtp_local_sdp_str local_media_ip local_media_port advertised_media_ip rtp_use_timer_name
        rtp_use_pt rtp_use_ssrc rtp_2833_send_payload rtp_2833_recv_payload remote_media_ip
        remote_media_port endpoint_disposition originate_disposition DIALSTATUS originate_causes
        last_bridge_to bridge_channel bridge_uuid signal_bond sip_to_tag sip_from_tag sip_cseq
        sip_call_id sip_full_via sip_from_display sip_full_from sip_full_to last_sent_callee_id_name
        last_sent_callee_id_number sip_reason sip_term_status proto_specific_hangup_cause
        sip_term_cause last_bridge_role sip_user_agent sip_hangup_disposition bridge_hangup_cause
      `,
    ),
    report: vars(
      "capture-plain.esl #693, capture-plain.esl #694",
      `
        direction uuid session_id sip_from_user sip_from_uri sip_from_host channel_name
        sip_local_network_addr sip_network_ip sip_network_port sip_invite_stamp sip_received_ip
        sip_received_port sip_via_protocol sip_from_user_stripped sofia_profile_name
        sofia_profile_url recovery_profile_name sip_Remote-Party-ID sip_cid_type sip_allow
        sip_req_user sip_req_port sip_req_uri sip_req_host sip_to_user sip_to_port sip_to_uri
        sip_to_host sip_contact_user sip_contact_port sip_contact_uri sip_contact_host sip_via_host
        sip_via_rport max_forwards switch_r_sdp ep_codec_string rtp_use_codec_string
        remote_video_media_flow remote_text_media_flow remote_audio_media_flow rtp_audio_recv_pt
        rtp_use_codec_name rtp_use_codec_rate rtp_use_codec_ptime rtp_use_codec_channels
        rtp_last_audio_codec_string read_codec original_read_codec read_rate original_read_rate
        write_codec write_rate dtmf_type rtcp_audio_interval_msec DP_MATCH fire_rtcp_events
        call_uuid hangup_after_bridge inherit_codec current_application_data current_application
        originated_legs switch_m_sdp video_media_flow text_media_flow audio_media_flow
        rtp_local_sdp_str local_media_ip local_media_port advertised_media_ip rtp_use_timer_name
        rtp_use_pt rtp_use_ssrc rtp_2833_send_payload rtp_2833_recv_payload remote_media_ip
        remote_media_port endpoint_disposition originate_disposition DIALSTATUS originate_causes
        last_bridge_to bridge_channel bridge_uuid signal_bond sip_to_tag sip_from_tag sip_cseq
        sip_call_id sip_full_via sip_from_display sip_full_from sip_full_to last_sent_callee_id_name
        last_sent_callee_id_number sip_reason sip_term_status proto_specific_hangup_cause
        sip_term_cause last_bridge_role sip_user_agent sip_hangup_disposition bridge_hangup_cause
        hangup_cause hangup_cause_q850 digits_dialed start_stamp profile_start_stamp answer_stamp
        bridge_stamp end_stamp start_epoch start_uepoch profile_start_epoch profile_start_uepoch
        answer_epoch answer_uepoch bridge_epoch bridge_uepoch last_hold_epoch last_hold_uepoch
        hold_accum_seconds hold_accum_usec hold_accum_ms resurrect_epoch resurrect_uepoch
        progress_epoch progress_uepoch progress_media_epoch progress_media_uepoch end_epoch
        end_uepoch last_app last_arg caller_id duration billsec progresssec answersec waitsec
        progress_mediasec flow_billsec mduration billmsec progressmsec answermsec waitmsec
        progress_mediamsec flow_billmsec uduration billusec progressusec answerusec waitusec
        progress_mediausec flow_billusec rtp_audio_in_raw_bytes rtp_audio_in_media_bytes
        rtp_audio_in_packet_count rtp_audio_in_media_packet_count rtp_audio_in_skip_packet_count
        rtp_audio_in_jitter_packet_count rtp_audio_in_dtmf_packet_count
        rtp_audio_in_cng_packet_count rtp_audio_in_flush_packet_count rtp_audio_in_largest_jb_size
        rtp_audio_in_jitter_min_variance rtp_audio_in_jitter_max_variance
        rtp_audio_in_jitter_loss_rate rtp_audio_in_jitter_burst_rate rtp_audio_in_mean_interval
        rtp_audio_in_flaw_total rtp_audio_in_quality_percentage rtp_audio_in_mos
        rtp_audio_out_raw_bytes rtp_audio_out_media_bytes rtp_audio_out_packet_count
        rtp_audio_out_media_packet_count rtp_audio_out_skip_packet_count
        rtp_audio_out_dtmf_packet_count rtp_audio_out_cng_packet_count rtp_audio_rtcp_packet_count
        rtp_audio_rtcp_octet_count
      `,
    ),
  },
  hungUpByB: {
    unbridgeAndHangup: vars(
      "capture-bhangup-plain.esl #697, capture-bhangup-plain.esl #698",
      `
        direction uuid session_id sip_from_user sip_from_uri sip_from_host channel_name
        sip_local_network_addr sip_network_ip sip_network_port sip_invite_stamp sip_received_ip
        sip_received_port sip_via_protocol sip_from_user_stripped sofia_profile_name
        sofia_profile_url recovery_profile_name sip_Remote-Party-ID sip_cid_type sip_allow
        sip_req_user sip_req_port sip_req_uri sip_req_host sip_to_user sip_to_port sip_to_uri
        sip_to_host sip_contact_user sip_contact_port sip_contact_uri sip_contact_host
        sip_user_agent sip_via_host sip_via_rport max_forwards switch_r_sdp ep_codec_string
        rtp_use_codec_string remote_video_media_flow remote_text_media_flow remote_audio_media_flow
        rtp_audio_recv_pt rtp_use_codec_name rtp_use_codec_rate rtp_use_codec_ptime
        rtp_use_codec_channels rtp_last_audio_codec_string read_codec original_read_codec read_rate
        original_read_rate write_codec write_rate dtmf_type rtcp_audio_interval_msec DP_MATCH
        fire_rtcp_events call_uuid hangup_after_bridge inherit_codec current_application_data
        current_application originated_legs switch_m_sdp video_media_flow text_media_flow
        audio_media_flow rtp_local_sdp_str local_media_ip local_media_port advertised_media_ip
        rtp_use_timer_name rtp_use_pt rtp_use_ssrc rtp_2833_send_payload rtp_2833_recv_payload
        remote_media_ip remote_media_port endpoint_disposition originate_disposition DIALSTATUS
        originate_causes sip_to_tag sip_from_tag sip_cseq sip_call_id sip_full_via sip_from_display
        sip_full_from sip_full_to last_bridge_to bridge_channel bridge_uuid signal_bond
        last_sent_callee_id_name last_sent_callee_id_number sip_reason sip_hangup_phrase
        last_bridge_hangup_cause last_bridge_proto_specific_hangup_cause bridge_hangup_cause
      `,
    ),
    report: vars(
      "capture-bhangup-plain.esl #705, capture-bhangup-plain.esl #706",
      `
        direction uuid session_id sip_from_user sip_from_uri sip_from_host channel_name
        sip_local_network_addr sip_network_ip sip_network_port sip_invite_stamp sip_received_ip
        sip_received_port sip_via_protocol sip_from_user_stripped sofia_profile_name
        sofia_profile_url recovery_profile_name sip_Remote-Party-ID sip_cid_type sip_allow
        sip_req_user sip_req_port sip_req_uri sip_req_host sip_to_user sip_to_port sip_to_uri
        sip_to_host sip_contact_user sip_contact_port sip_contact_uri sip_contact_host
        sip_user_agent sip_via_host sip_via_rport max_forwards switch_r_sdp ep_codec_string
        rtp_use_codec_string remote_video_media_flow remote_text_media_flow remote_audio_media_flow
        rtp_audio_recv_pt rtp_use_codec_name rtp_use_codec_rate rtp_use_codec_ptime
        rtp_use_codec_channels rtp_last_audio_codec_string read_codec original_read_codec read_rate
        original_read_rate write_codec write_rate dtmf_type rtcp_audio_interval_msec DP_MATCH
        fire_rtcp_events call_uuid hangup_after_bridge inherit_codec current_application_data
        current_application originated_legs switch_m_sdp video_media_flow text_media_flow
        audio_media_flow rtp_local_sdp_str local_media_ip local_media_port advertised_media_ip
        rtp_use_timer_name rtp_use_pt rtp_use_ssrc rtp_2833_send_payload rtp_2833_recv_payload
        remote_media_ip remote_media_port endpoint_disposition originate_disposition DIALSTATUS
        originate_causes sip_to_tag sip_from_tag sip_cseq sip_call_id sip_full_via sip_from_display
        sip_full_from sip_full_to last_bridge_to bridge_channel bridge_uuid signal_bond
        last_sent_callee_id_name last_sent_callee_id_number sip_reason sip_hangup_phrase
        last_bridge_hangup_cause last_bridge_proto_specific_hangup_cause bridge_hangup_cause
        hangup_cause hangup_cause_q850 digits_dialed start_stamp profile_start_stamp answer_stamp
        bridge_stamp end_stamp start_epoch start_uepoch profile_start_epoch profile_start_uepoch
        answer_epoch answer_uepoch bridge_epoch bridge_uepoch last_hold_epoch last_hold_uepoch
        hold_accum_seconds hold_accum_usec hold_accum_ms resurrect_epoch resurrect_uepoch
        progress_epoch progress_uepoch progress_media_epoch progress_media_uepoch end_epoch
        end_uepoch last_app last_arg caller_id duration billsec progresssec answersec waitsec
        progress_mediasec flow_billsec mduration billmsec progressmsec answermsec waitmsec
        progress_mediamsec flow_billmsec uduration billusec progressusec answerusec waitusec
        progress_mediausec flow_billusec sip_hangup_disposition rtp_audio_in_raw_bytes
        rtp_audio_in_media_bytes rtp_audio_in_packet_count rtp_audio_in_media_packet_count
        rtp_audio_in_skip_packet_count rtp_audio_in_jitter_packet_count
        rtp_audio_in_dtmf_packet_count rtp_audio_in_cng_packet_count rtp_audio_in_flush_packet_count
        rtp_audio_in_largest_jb_size rtp_audio_in_jitter_min_variance
        rtp_audio_in_jitter_max_variance rtp_audio_in_jitter_loss_rate
        rtp_audio_in_jitter_burst_rate rtp_audio_in_mean_interval rtp_audio_in_flaw_total
        rtp_audio_in_quality_percentage rtp_audio_in_mos rtp_audio_out_raw_bytes
        rtp_audio_out_media_bytes rtp_audio_out_packet_count rtp_audio_out_media_packet_count
        rtp_audio_out_skip_packet_count rtp_audio_out_dtmf_packet_count
        rtp_audio_out_cng_packet_count rtp_audio_rtcp_packet_count rtp_audio_rtcp_octet_count
      `,
    ),
  },
  cancelled: {
    hangup: vars(
      "capture-cancel-plain.esl #837",
      `
        direction uuid session_id sip_from_user sip_from_uri sip_from_host video_media_flow
        text_media_flow channel_name sip_call_id sip_local_network_addr sip_network_ip
        sip_network_port sip_invite_stamp sip_received_ip sip_received_port sip_via_protocol
        sip_from_user_stripped sip_from_tag sofia_profile_name sofia_profile_url
        recovery_profile_name sip_Remote-Party-ID sip_cid_type sip_full_via sip_from_display
        sip_full_from sip_full_to sip_allow sip_req_user sip_req_port sip_req_uri sip_req_host
        sip_to_user sip_to_port sip_to_uri sip_to_host sip_contact_user sip_contact_port
        sip_contact_uri sip_contact_host sip_user_agent sip_via_host sip_via_rport max_forwards
        switch_r_sdp ep_codec_string rtp_use_codec_string remote_video_media_flow
        remote_text_media_flow remote_audio_media_flow audio_media_flow remote_media_ip
        remote_media_port rtp_audio_recv_pt rtp_use_codec_name rtp_use_codec_rate
        rtp_use_codec_ptime rtp_use_codec_channels rtp_last_audio_codec_string read_codec
        original_read_codec read_rate original_read_rate write_codec write_rate dtmf_type
        endpoint_disposition rtcp_audio_interval_msec DP_MATCH fire_rtcp_events call_uuid
        hangup_after_bridge inherit_codec current_application_data current_application
        originate_disposition DIALSTATUS originate_signal_bond originated_legs sip_to_tag
        sip_hangup_disposition sip_invite_failure_status sip_invite_failure_phrase sip_reason
        sip_term_status proto_specific_hangup_cause sip_term_cause
      `,
    ),
    report: vars(
      "capture-cancel-plain.esl #851, capture-cancel-plain.esl #852",
      `
        direction uuid session_id sip_from_user sip_from_uri sip_from_host video_media_flow
        text_media_flow channel_name sip_call_id sip_local_network_addr sip_network_ip
        sip_network_port sip_invite_stamp sip_received_ip sip_received_port sip_via_protocol
        sip_from_user_stripped sip_from_tag sofia_profile_name sofia_profile_url
        recovery_profile_name sip_Remote-Party-ID sip_cid_type sip_full_via sip_from_display
        sip_full_from sip_full_to sip_allow sip_req_user sip_req_port sip_req_uri sip_req_host
        sip_to_user sip_to_port sip_to_uri sip_to_host sip_contact_user sip_contact_port
        sip_contact_uri sip_contact_host sip_user_agent sip_via_host sip_via_rport max_forwards
        switch_r_sdp ep_codec_string rtp_use_codec_string remote_video_media_flow
        remote_text_media_flow remote_audio_media_flow audio_media_flow remote_media_ip
        remote_media_port rtp_audio_recv_pt rtp_use_codec_name rtp_use_codec_rate
        rtp_use_codec_ptime rtp_use_codec_channels rtp_last_audio_codec_string read_codec
        original_read_codec read_rate original_read_rate write_codec write_rate dtmf_type
        endpoint_disposition rtcp_audio_interval_msec DP_MATCH fire_rtcp_events call_uuid
        hangup_after_bridge inherit_codec current_application_data current_application
        originate_signal_bond originated_legs sip_to_tag sip_hangup_disposition
        sip_invite_failure_status sip_invite_failure_phrase sip_reason sip_term_status
        proto_specific_hangup_cause sip_term_cause originate_disposition DIALSTATUS originate_causes
        originate_failed_cause hangup_cause hangup_cause_q850 digits_dialed start_stamp
        profile_start_stamp progress_stamp end_stamp start_epoch start_uepoch profile_start_epoch
        profile_start_uepoch answer_epoch answer_uepoch bridge_epoch bridge_uepoch last_hold_epoch
        last_hold_uepoch hold_accum_seconds hold_accum_usec hold_accum_ms resurrect_epoch
        resurrect_uepoch progress_epoch progress_uepoch progress_media_epoch progress_media_uepoch
        end_epoch end_uepoch last_app last_arg caller_id duration billsec progresssec answersec
        waitsec progress_mediasec flow_billsec mduration billmsec progressmsec answermsec waitmsec
        progress_mediamsec flow_billmsec uduration billusec progressusec answerusec waitusec
        progress_mediausec flow_billusec
      `,
    ),
  },
};
