// Variable layouts of an outbound B-leg that a bridge originated: L3 of the lab (sofia/b
// outbound to extension `tone`, bridged to L2). See variables.ts.
//
// When FreeSWITCH tears the bridge down (CHANNEL_UNBRIDGE on the A-leg) it sets the B-leg's
// bridge_hangup_cause and resets its call_uuid to the B-leg's own Unique-ID, which moves both to
// the end of the list; from then on the B-leg names itself in Channel-Call-UUID. Whether its
// CHANNEL_HANGUP_COMPLETE comes before or after that depends on FreeSWITCH's threads: both are
// in the captures. Its CHANNEL_DESTROY always comes after.

import { noVars, type VariableLayout, vars } from "./variables.js";

export interface BLegHangup {
  readonly hangup: VariableLayout;
  /** CHANNEL_HANGUP_COMPLETE fired before the unbridge: it names the A-leg. */
  readonly reportBeforeUnbridge: VariableLayout;
  /** CHANNEL_DESTROY after such a report: the leg names itself. */
  readonly destroyAfterUnbridge: VariableLayout;
}

export interface BLegLayouts {
  readonly outgoing: VariableLayout;
  readonly create: VariableLayout;
  readonly answer: VariableLayout;
  /** The A side hung up first: FreeSWITCH sends the B side a BYE. */
  readonly hungUpByA: BLegHangup & {
    /** CHANNEL_HANGUP_COMPLETE and CHANNEL_DESTROY, both after the unbridge. */
    readonly reportAfterUnbridge: VariableLayout;
  };
  /** The B side hung up first (the carrier sent BYE). */
  readonly hungUpByB: BLegHangup;
  /** The A-leg was cancelled while this leg rang: no bridge, so both reports name the A-leg. */
  readonly cancelled: {
    readonly hangup: VariableLayout;
    readonly report: VariableLayout;
  };
}

export const B_LEG: BLegLayouts = {
  outgoing: noVars("capture-plain.esl #478, capture-cancel-plain.esl #763"),
  create: vars(
    "capture-plain.esl #480, capture-cancel-plain.esl #765",
    `
      direction is_outbound uuid session_id sip_local_network_addr sip_profile_name
      text_media_flow channel_name sip_destination_url sip_cid_type max_forwards originator_codec
      originator signal_bond switch_m_sdp call_uuid rtcp_audio_interval_msec fire_rtcp_events
      originate_early_media originating_leg_uuid originate_endpoint rtp_use_codec_string
      local_media_ip local_media_port advertised_media_ip audio_media_flow video_media_flow
      rtp_local_sdp_str sip_outgoing_contact_uri sip_req_uri sip_to_host sip_from_host
      sofia_profile_name recovery_profile_name sofia_profile_url
    `,
  ),
  answer: vars(
    "capture-plain.esl #505",
    `
      direction is_outbound uuid session_id sip_profile_name text_media_flow channel_name
      sip_destination_url sip_cid_type max_forwards originator_codec originator signal_bond
      switch_m_sdp call_uuid rtcp_audio_interval_msec fire_rtcp_events originate_early_media
      originating_leg_uuid originate_endpoint audio_media_flow video_media_flow rtp_local_sdp_str
      sip_outgoing_contact_uri sip_req_uri sofia_profile_name recovery_profile_name
      sofia_profile_url sip_local_network_addr sip_reply_host sip_reply_port sip_network_ip
      sip_network_port sip_user_agent sip_allow sip_recover_contact sip_full_via sip_recover_via
      sip_from_display sip_full_from sip_full_to sip_from_user sip_from_uri sip_from_host
      sip_to_user sip_to_port sip_to_uri sip_to_host sip_contact_params sip_contact_user
      sip_contact_port sip_contact_uri sip_contact_host sip_to_tag sip_from_tag sip_cseq
      sip_call_id switch_r_sdp ep_codec_string rtp_use_codec_string remote_video_media_flow
      remote_text_media_flow remote_audio_media_flow rtp_audio_recv_pt rtp_use_codec_name
      rtp_use_codec_rate rtp_use_codec_ptime rtp_use_codec_channels rtp_last_audio_codec_string
      read_codec original_read_codec read_rate original_read_rate write_codec write_rate dtmf_type
      local_media_ip local_media_port advertised_media_ip rtp_use_timer_name rtp_use_pt
      rtp_use_ssrc rtp_2833_send_payload rtp_2833_recv_payload remote_media_ip remote_media_port
    `,
  ),
  hungUpByA: {
    hangup: vars(
      "capture-plain.esl #682",
      `
        direction is_outbound uuid session_id sip_profile_name text_media_flow channel_name
        sip_destination_url sip_cid_type max_forwards originator_codec originator switch_m_sdp
        rtcp_audio_interval_msec fire_rtcp_events originate_early_media originating_leg_uuid
        originate_endpoint audio_media_flow video_media_flow rtp_local_sdp_str
        sip_outgoing_contact_uri sip_req_uri sofia_profile_name recovery_profile_name
        sofia_profile_url sip_local_network_addr sip_reply_host sip_reply_port sip_network_ip
        sip_network_port sip_user_agent sip_allow sip_recover_contact sip_full_via sip_recover_via
        sip_from_display sip_full_from sip_full_to sip_from_user sip_from_uri sip_from_host
        sip_to_user sip_to_port sip_to_uri sip_to_host sip_contact_params sip_contact_user
        sip_contact_port sip_contact_uri sip_contact_host sip_to_tag sip_from_tag sip_cseq
        sip_call_id switch_r_sdp ep_codec_string rtp_use_codec_string remote_video_media_flow
        remote_text_media_flow remote_audio_media_flow rtp_audio_recv_pt rtp_use_codec_name
        rtp_use_codec_rate rtp_use_codec_ptime rtp_use_codec_channels rtp_last_audio_codec_string
        read_codec original_read_codec read_rate original_read_rate write_codec write_rate dtmf_type
        local_media_ip local_media_port advertised_media_ip rtp_use_timer_name rtp_use_pt
        rtp_use_ssrc rtp_2833_send_payload rtp_2833_recv_payload remote_media_ip remote_media_port
        endpoint_disposition call_uuid last_bridge_to bridge_channel bridge_uuid signal_bond
        last_sent_callee_id_name last_sent_callee_id_number sip_reason sip_hangup_phrase
        last_bridge_hangup_cause last_bridge_proto_specific_hangup_cause
      `,
    ),
    reportBeforeUnbridge: vars(
      "capture-plain.esl #686",
      `
        direction is_outbound uuid session_id sip_profile_name text_media_flow channel_name
        sip_destination_url sip_cid_type max_forwards originator_codec originator switch_m_sdp
        rtcp_audio_interval_msec fire_rtcp_events originate_early_media originating_leg_uuid
        originate_endpoint audio_media_flow video_media_flow rtp_local_sdp_str
        sip_outgoing_contact_uri sip_req_uri sofia_profile_name recovery_profile_name
        sofia_profile_url sip_local_network_addr sip_reply_host sip_reply_port sip_network_ip
        sip_network_port sip_user_agent sip_allow sip_recover_contact sip_full_via sip_recover_via
        sip_from_display sip_full_from sip_full_to sip_from_user sip_from_uri sip_from_host
        sip_to_user sip_to_port sip_to_uri sip_to_host sip_contact_params sip_contact_user
        sip_contact_port sip_contact_uri sip_contact_host sip_to_tag sip_from_tag sip_cseq
        sip_call_id switch_r_sdp ep_codec_string rtp_use_codec_string remote_video_media_flow
        remote_text_media_flow remote_audio_media_flow rtp_audio_recv_pt rtp_use_codec_name
        rtp_use_codec_rate rtp_use_codec_ptime rtp_use_codec_channels rtp_last_audio_codec_string
        read_codec original_read_codec read_rate original_read_rate write_codec write_rate dtmf_type
        local_media_ip local_media_port advertised_media_ip rtp_use_timer_name rtp_use_pt
        rtp_use_ssrc rtp_2833_send_payload rtp_2833_recv_payload remote_media_ip remote_media_port
        endpoint_disposition call_uuid last_bridge_to bridge_channel bridge_uuid signal_bond
        last_sent_callee_id_name last_sent_callee_id_number sip_reason sip_hangup_phrase
        last_bridge_hangup_cause last_bridge_proto_specific_hangup_cause hangup_cause
        hangup_cause_q850 digits_dialed start_stamp profile_start_stamp answer_stamp bridge_stamp
        end_stamp start_epoch start_uepoch profile_start_epoch profile_start_uepoch answer_epoch
        answer_uepoch bridge_epoch bridge_uepoch last_hold_epoch last_hold_uepoch hold_accum_seconds
        hold_accum_usec hold_accum_ms resurrect_epoch resurrect_uepoch progress_epoch
        progress_uepoch progress_media_epoch progress_media_uepoch end_epoch end_uepoch caller_id
        duration billsec progresssec answersec waitsec progress_mediasec flow_billsec mduration
        billmsec progressmsec answermsec waitmsec progress_mediamsec flow_billmsec uduration
        billusec progressusec answerusec waitusec progress_mediausec flow_billusec
        sip_hangup_disposition rtp_audio_in_raw_bytes rtp_audio_in_media_bytes
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
    destroyAfterUnbridge: vars(
      "capture-plain.esl #691",
      `
        direction is_outbound uuid session_id sip_profile_name text_media_flow channel_name
        sip_destination_url sip_cid_type max_forwards originator_codec originator switch_m_sdp
        rtcp_audio_interval_msec fire_rtcp_events originate_early_media originating_leg_uuid
        originate_endpoint audio_media_flow video_media_flow rtp_local_sdp_str
        sip_outgoing_contact_uri sip_req_uri sofia_profile_name recovery_profile_name
        sofia_profile_url sip_local_network_addr sip_reply_host sip_reply_port sip_network_ip
        sip_network_port sip_user_agent sip_allow sip_recover_contact sip_full_via sip_recover_via
        sip_from_display sip_full_from sip_full_to sip_from_user sip_from_uri sip_from_host
        sip_to_user sip_to_port sip_to_uri sip_to_host sip_contact_params sip_contact_user
        sip_contact_port sip_contact_uri sip_contact_host sip_to_tag sip_from_tag sip_cseq
        sip_call_id switch_r_sdp ep_codec_string rtp_use_codec_string remote_video_media_flow
        remote_text_media_flow remote_audio_media_flow rtp_audio_recv_pt rtp_use_codec_name
        rtp_use_codec_rate rtp_use_codec_ptime rtp_use_codec_channels rtp_last_audio_codec_string
        read_codec original_read_codec read_rate original_read_rate write_codec write_rate dtmf_type
        local_media_ip local_media_port advertised_media_ip rtp_use_timer_name rtp_use_pt
        rtp_use_ssrc rtp_2833_send_payload rtp_2833_recv_payload remote_media_ip remote_media_port
        endpoint_disposition last_bridge_to bridge_channel bridge_uuid signal_bond
        last_sent_callee_id_name last_sent_callee_id_number sip_reason sip_hangup_phrase
        last_bridge_hangup_cause last_bridge_proto_specific_hangup_cause hangup_cause
        hangup_cause_q850 digits_dialed start_stamp profile_start_stamp answer_stamp bridge_stamp
        end_stamp start_epoch start_uepoch profile_start_epoch profile_start_uepoch answer_epoch
        answer_uepoch bridge_epoch bridge_uepoch last_hold_epoch last_hold_uepoch hold_accum_seconds
        hold_accum_usec hold_accum_ms resurrect_epoch resurrect_uepoch progress_epoch
        progress_uepoch progress_media_epoch progress_media_uepoch end_epoch end_uepoch caller_id
        duration billsec progresssec answersec waitsec progress_mediasec flow_billsec mduration
        billmsec progressmsec answermsec waitmsec progress_mediamsec flow_billmsec uduration
        billusec progressusec answerusec waitusec progress_mediausec flow_billusec
        sip_hangup_disposition rtp_audio_in_raw_bytes rtp_audio_in_media_bytes
        rtp_audio_in_packet_count rtp_audio_in_media_packet_count rtp_audio_in_skip_packet_count
        rtp_audio_in_jitter_packet_count rtp_audio_in_dtmf_packet_count
        rtp_audio_in_cng_packet_count rtp_audio_in_flush_packet_count rtp_audio_in_largest_jb_size
        rtp_audio_in_jitter_min_variance rtp_audio_in_jitter_max_variance
        rtp_audio_in_jitter_loss_rate rtp_audio_in_jitter_burst_rate rtp_audio_in_mean_interval
        rtp_audio_in_flaw_total rtp_audio_in_quality_percentage rtp_audio_in_mos
        rtp_audio_out_raw_bytes rtp_audio_out_media_bytes rtp_audio_out_packet_count
        rtp_audio_out_media_packet_count rtp_audio_out_skip_packet_count
        rtp_audio_out_dtmf_packet_count rtp_audio_out_cng_packet_count rtp_audio_rtcp_packet_count
        rtp_audio_rtcp_octet_count bridge_hangup_cause call_uuid
      `,
    ),
    reportAfterUnbridge: vars(
      "capture-long-plain.esl #654, capture-long-plain.esl #655",
      `
        direction is_outbound uuid session_id sip_profile_name text_media_flow channel_name
        sip_destination_url sip_cid_type max_forwards originator_codec originator switch_m_sdp
        rtcp_audio_interval_msec fire_rtcp_events originate_early_media originating_leg_uuid
        originate_endpoint audio_media_flow video_media_flow rtp_local_sdp_str
        sip_outgoing_contact_uri sip_req_uri sofia_profile_name recovery_profile_name
        sofia_profile_url sip_local_network_addr sip_reply_host sip_reply_port sip_network_ip
        sip_network_port sip_user_agent sip_allow sip_recover_contact sip_full_via sip_recover_via
        sip_from_display sip_full_from sip_full_to sip_from_user sip_from_uri sip_from_host
        sip_to_user sip_to_port sip_to_uri sip_to_host sip_contact_params sip_contact_user
        sip_contact_port sip_contact_uri sip_contact_host sip_to_tag sip_from_tag sip_cseq
        sip_call_id switch_r_sdp ep_codec_string rtp_use_codec_string remote_video_media_flow
        remote_text_media_flow remote_audio_media_flow rtp_audio_recv_pt rtp_use_codec_name
        rtp_use_codec_rate rtp_use_codec_ptime rtp_use_codec_channels rtp_last_audio_codec_string
        read_codec original_read_codec read_rate original_read_rate write_codec write_rate dtmf_type
        local_media_ip local_media_port advertised_media_ip rtp_use_timer_name rtp_use_pt
        rtp_use_ssrc rtp_2833_send_payload rtp_2833_recv_payload remote_media_ip remote_media_port
        endpoint_disposition last_bridge_to bridge_channel bridge_uuid signal_bond
        last_sent_callee_id_name last_sent_callee_id_number sip_reason sip_hangup_phrase
        last_bridge_hangup_cause last_bridge_proto_specific_hangup_cause bridge_hangup_cause
        call_uuid hangup_cause hangup_cause_q850 digits_dialed start_stamp profile_start_stamp
        answer_stamp bridge_stamp end_stamp start_epoch start_uepoch profile_start_epoch
        profile_start_uepoch answer_epoch answer_uepoch bridge_epoch bridge_uepoch last_hold_epoch
        last_hold_uepoch hold_accum_seconds hold_accum_usec hold_accum_ms resurrect_epoch
        resurrect_uepoch progress_epoch progress_uepoch progress_media_epoch progress_media_uepoch
        end_epoch end_uepoch caller_id duration billsec progresssec answersec waitsec
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
  hungUpByB: {
    hangup: vars(
      "capture-bhangup-plain.esl #679",
      `
        direction is_outbound uuid session_id sip_profile_name text_media_flow channel_name
        sip_destination_url sip_cid_type max_forwards originator_codec originator switch_m_sdp
        rtcp_audio_interval_msec fire_rtcp_events originate_early_media originating_leg_uuid
        originate_endpoint audio_media_flow video_media_flow rtp_local_sdp_str
        sip_outgoing_contact_uri sip_req_uri sofia_profile_name recovery_profile_name
        sofia_profile_url sip_local_network_addr sip_reply_host sip_reply_port sip_network_ip
        sip_network_port sip_user_agent sip_allow sip_recover_contact sip_full_via sip_recover_via
        sip_from_display sip_full_from sip_full_to sip_from_user sip_from_uri sip_from_host
        sip_to_user sip_to_port sip_to_uri sip_to_host sip_contact_params sip_contact_user
        sip_contact_port sip_contact_uri sip_contact_host sip_to_tag sip_from_tag sip_cseq
        sip_call_id switch_r_sdp ep_codec_string rtp_use_codec_string remote_video_media_flow
        remote_text_media_flow remote_audio_media_flow rtp_audio_recv_pt rtp_use_codec_name
        rtp_use_codec_rate rtp_use_codec_ptime rtp_use_codec_channels rtp_last_audio_codec_string
        read_codec original_read_codec read_rate original_read_rate write_codec write_rate dtmf_type
        local_media_ip local_media_port advertised_media_ip rtp_use_timer_name rtp_use_pt
        rtp_use_ssrc rtp_2833_send_payload rtp_2833_recv_payload remote_media_ip remote_media_port
        endpoint_disposition call_uuid bridge_to last_bridge_to bridge_channel bridge_uuid
        signal_bond last_sent_callee_id_name last_sent_callee_id_number sip_reason sip_term_status
        proto_specific_hangup_cause sip_term_cause last_bridge_role
      `,
    ),
    reportBeforeUnbridge: vars(
      "capture-bhangup-plain.esl #683",
      `
        direction is_outbound uuid session_id sip_profile_name text_media_flow channel_name
        sip_destination_url sip_cid_type max_forwards originator_codec originator switch_m_sdp
        rtcp_audio_interval_msec fire_rtcp_events originate_early_media originating_leg_uuid
        originate_endpoint audio_media_flow video_media_flow rtp_local_sdp_str
        sip_outgoing_contact_uri sip_req_uri sofia_profile_name recovery_profile_name
        sofia_profile_url sip_local_network_addr sip_reply_host sip_reply_port sip_network_ip
        sip_network_port sip_allow sip_recover_contact sip_full_via sip_recover_via sip_from_display
        sip_full_from sip_full_to sip_from_user sip_from_uri sip_from_host sip_to_user sip_to_port
        sip_to_uri sip_to_host sip_contact_params sip_contact_user sip_contact_port sip_contact_uri
        sip_contact_host sip_to_tag sip_from_tag sip_cseq sip_call_id switch_r_sdp ep_codec_string
        rtp_use_codec_string remote_video_media_flow remote_text_media_flow remote_audio_media_flow
        rtp_audio_recv_pt rtp_use_codec_name rtp_use_codec_rate rtp_use_codec_ptime
        rtp_use_codec_channels rtp_last_audio_codec_string read_codec original_read_codec read_rate
        original_read_rate write_codec write_rate dtmf_type local_media_ip local_media_port
        advertised_media_ip rtp_use_timer_name rtp_use_pt rtp_use_ssrc rtp_2833_send_payload
        rtp_2833_recv_payload remote_media_ip remote_media_port endpoint_disposition call_uuid
        last_bridge_to bridge_channel bridge_uuid signal_bond last_sent_callee_id_name
        last_sent_callee_id_number sip_reason sip_term_status proto_specific_hangup_cause
        sip_term_cause last_bridge_role sip_user_agent sip_hangup_disposition hangup_cause
        hangup_cause_q850 digits_dialed start_stamp profile_start_stamp answer_stamp bridge_stamp
        end_stamp start_epoch start_uepoch profile_start_epoch profile_start_uepoch answer_epoch
        answer_uepoch bridge_epoch bridge_uepoch last_hold_epoch last_hold_uepoch hold_accum_seconds
        hold_accum_usec hold_accum_ms resurrect_epoch resurrect_uepoch progress_epoch
        progress_uepoch progress_media_epoch progress_media_uepoch end_epoch end_uepoch caller_id
        duration billsec progresssec answersec waitsec progress_mediasec flow_billsec mduration
        billmsec progressmsec answermsec waitmsec progress_mediamsec flow_billmsec uduration
        billusec progressusec answerusec waitusec progress_mediausec flow_billusec
        rtp_audio_in_raw_bytes rtp_audio_in_media_bytes rtp_audio_in_packet_count
        rtp_audio_in_media_packet_count rtp_audio_in_skip_packet_count
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
    destroyAfterUnbridge: vars(
      "capture-bhangup-plain.esl #701",
      `
        direction is_outbound uuid session_id sip_profile_name text_media_flow channel_name
        sip_destination_url sip_cid_type max_forwards originator_codec originator switch_m_sdp
        rtcp_audio_interval_msec fire_rtcp_events originate_early_media originating_leg_uuid
        originate_endpoint audio_media_flow video_media_flow rtp_local_sdp_str
        sip_outgoing_contact_uri sip_req_uri sofia_profile_name recovery_profile_name
        sofia_profile_url sip_local_network_addr sip_reply_host sip_reply_port sip_network_ip
        sip_network_port sip_allow sip_recover_contact sip_full_via sip_recover_via sip_from_display
        sip_full_from sip_full_to sip_from_user sip_from_uri sip_from_host sip_to_user sip_to_port
        sip_to_uri sip_to_host sip_contact_params sip_contact_user sip_contact_port sip_contact_uri
        sip_contact_host sip_to_tag sip_from_tag sip_cseq sip_call_id switch_r_sdp ep_codec_string
        rtp_use_codec_string remote_video_media_flow remote_text_media_flow remote_audio_media_flow
        rtp_audio_recv_pt rtp_use_codec_name rtp_use_codec_rate rtp_use_codec_ptime
        rtp_use_codec_channels rtp_last_audio_codec_string read_codec original_read_codec read_rate
        original_read_rate write_codec write_rate dtmf_type local_media_ip local_media_port
        advertised_media_ip rtp_use_timer_name rtp_use_pt rtp_use_ssrc rtp_2833_send_payload
        rtp_2833_recv_payload remote_media_ip remote_media_port endpoint_disposition last_bridge_to
        bridge_channel bridge_uuid signal_bond last_sent_callee_id_name last_sent_callee_id_number
        sip_reason sip_term_status proto_specific_hangup_cause sip_term_cause last_bridge_role
        sip_user_agent sip_hangup_disposition hangup_cause hangup_cause_q850 digits_dialed
        start_stamp profile_start_stamp answer_stamp bridge_stamp end_stamp start_epoch start_uepoch
        profile_start_epoch profile_start_uepoch answer_epoch answer_uepoch bridge_epoch
        bridge_uepoch last_hold_epoch last_hold_uepoch hold_accum_seconds hold_accum_usec
        hold_accum_ms resurrect_epoch resurrect_uepoch progress_epoch progress_uepoch
        progress_media_epoch progress_media_uepoch end_epoch end_uepoch caller_id duration billsec
        progresssec answersec waitsec progress_mediasec flow_billsec mduration billmsec progressmsec
        answermsec waitmsec progress_mediamsec flow_billmsec uduration billusec progressusec
        answerusec waitusec progress_mediausec flow_billusec rtp_audio_in_raw_bytes
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
        call_uuid
      `,
    ),
  },
  cancelled: {
    hangup: vars(
      "capture-cancel-plain.esl #846",
      `
        direction is_outbound uuid session_id sip_profile_name text_media_flow channel_name
        sip_destination_url sip_cid_type max_forwards originator_codec originator signal_bond
        switch_m_sdp call_uuid rtcp_audio_interval_msec fire_rtcp_events originate_early_media
        originating_leg_uuid originate_endpoint rtp_use_codec_string local_media_ip local_media_port
        advertised_media_ip audio_media_flow video_media_flow rtp_local_sdp_str
        sip_outgoing_contact_uri sip_req_uri sofia_profile_name recovery_profile_name
        sofia_profile_url sip_local_network_addr sip_reply_host sip_reply_port sip_network_ip
        sip_network_port sip_user_agent sip_allow sip_recover_contact sip_full_via sip_recover_via
        sip_from_display sip_full_from sip_full_to sip_from_user sip_from_uri sip_from_host
        sip_to_user sip_to_port sip_to_uri sip_to_host sip_contact_params sip_contact_user
        sip_contact_port sip_contact_uri sip_contact_host sip_to_tag sip_from_tag sip_cseq
        sip_call_id sip_reason sip_hangup_phrase last_bridge_hangup_cause
        last_bridge_proto_specific_hangup_cause
      `,
    ),
    report: vars(
      "capture-cancel-plain.esl #857, capture-cancel-plain.esl #858",
      `
        direction is_outbound uuid session_id sip_profile_name text_media_flow channel_name
        sip_destination_url sip_cid_type max_forwards originator_codec originator signal_bond
        switch_m_sdp call_uuid rtcp_audio_interval_msec fire_rtcp_events originate_early_media
        originating_leg_uuid originate_endpoint rtp_use_codec_string local_media_ip local_media_port
        advertised_media_ip audio_media_flow video_media_flow rtp_local_sdp_str
        sip_outgoing_contact_uri sip_req_uri sofia_profile_name recovery_profile_name
        sofia_profile_url sip_local_network_addr sip_reply_host sip_reply_port sip_network_ip
        sip_network_port sip_user_agent sip_allow sip_recover_contact sip_full_via sip_recover_via
        sip_from_display sip_full_from sip_full_to sip_from_user sip_from_uri sip_from_host
        sip_to_user sip_to_port sip_to_uri sip_to_host sip_contact_params sip_contact_user
        sip_contact_port sip_contact_uri sip_contact_host sip_to_tag sip_from_tag sip_cseq
        sip_call_id sip_reason sip_hangup_phrase last_bridge_hangup_cause
        last_bridge_proto_specific_hangup_cause hangup_cause hangup_cause_q850 digits_dialed
        start_stamp profile_start_stamp progress_stamp end_stamp start_epoch start_uepoch
        profile_start_epoch profile_start_uepoch answer_epoch answer_uepoch bridge_epoch
        bridge_uepoch last_hold_epoch last_hold_uepoch hold_accum_seconds hold_accum_usec
        hold_accum_ms resurrect_epoch resurrect_uepoch progress_epoch progress_uepoch
        progress_media_epoch progress_media_uepoch end_epoch end_uepoch caller_id duration billsec
        progresssec answersec waitsec progress_mediasec flow_billsec mduration billmsec progressmsec
        answermsec waitmsec progress_mediamsec flow_billmsec uduration billusec progressusec
        answerusec waitusec progress_mediausec flow_billusec sip_hangup_disposition
        sip_invite_failure_status sip_invite_failure_phrase
      `,
    ),
  },
};
