"""kameng: a 卡盟 platform with after-sales buyers can trust."""
